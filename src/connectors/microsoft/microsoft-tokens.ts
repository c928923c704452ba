import { AuthError, InteractionRequiredAuthError } from '@azure/msal-node';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { ConnectorRow } from '../connector-store.js';
import { deleteEntraTokens, ENTRA_TOKEN_OWNER, loadEntraToken, rotateEntraToken } from './entra-token-store.js';
import { microsoftConfig, type MicrosoftConfig } from './microsoft-config.js';
import { deserializeCredential } from './microsoft-credential.js';
import { MicrosoftToolFailure } from './microsoft-failure.js';
import { graphScopes } from './microsoft-scopes.js';
import { msalClient, refreshTokenInCache } from './msal-client.js';

/** A token is used until this long before it expires, so no Graph call starts with one that dies in flight. */
const EXPIRY_MARGIN_MS = 120_000;
const MAX_ENTRIES = 10_000;

interface Token {
  accessToken: string;
  expiresAt: number;
}
interface Entry {
  tenantId: string;
  userId: string;
  token: Promise<Token>;
}

/** Where a user fixes what Entra asks for: links shown in tool errors. */
export interface RemedyLinks {
  signIn: string;
  adminConsent: (tid: string) => string;
}

/**
 * Graph tokens for a user: the user's stored Entra refresh token is redeemed for an access token to our own API (the
 * OBO assertion), which `acquireTokenOnBehalfOf` exchanges for the tool's Graph scopes, with the user's home tenant
 * as authority. Both are cached per (tenant, connector version, user, stored refresh token[, scope set]) until
 * shortly before expiry; concurrent misses share one request. The stored token's vault row is looked up on every
 * call (no decryption), so a token deleted by deprovisioning, logout or `connector remove` on any node ends the
 * cached ones at once; the bus also drops a revoked user's and a changed tenant's entries.
 */
export class MicrosoftTokenCache {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly s: Pick<Services, 'bus' | 'clock' | 'vault' | 'egress'>) {
    s.bus.subscribe((e) => {
      if (e.type === 'tools.changed' || e.type === 'tenant.changed') this.#drop((x) => x.tenantId === e.tenantId);
      if (e.type === 'user.revoked') this.#drop((x) => x.tenantId === e.tenantId && x.userId === e.userId);
    });
  }

  /** A Graph access token for `permissions` (e.g. Mail.Read) as this user. Throws MicrosoftToolFailure. */
  async graphToken(t: TenantCtx, connector: ConnectorRow, userId: string, permissions: readonly string[], links: RemedyLinks): Promise<string> {
    const row = await t.db.vaultSecret.findFirst({ where: { ownerKind: ENTRA_TOKEN_OWNER, userId }, orderBy: { updatedAt: 'desc' }, select: { id: true } });
    if (!row) throw notSignedIn(links);
    const config = microsoftConfig(connector);
    const base = [t.id, connector.id, connector.updatedAt.getTime(), userId, row.id];
    const scopes = graphScopes(config.graphEndpoint, [...permissions].sort());
    try {
      const token = await this.#cached([...base, ...scopes].join('\u0000'), t.id, userId, async () => {
        const assertion = await this.#cached([...base, 'assertion'].join('\u0000'), t.id, userId, () => this.#assertion(t, connector, config, userId, links));
        return this.#obo(t, connector, config, userId, assertion.accessToken, scopes, links);
      });
      return token.accessToken;
    } catch (err) {
      // The user must sign in again: the next call starts from the refresh token that sign-in stores, not from an
      // assertion cached before it (which would meet the same challenge again).
      if (err instanceof MicrosoftToolFailure && err.action?.kind === 'sign_in') this.forget(t.id, userId);
      throw err;
    }
  }

  /** Drops the user's cached assertion and Graph tokens (a claims challenge: the next call starts afresh). */
  forget(tenantId: string, userId: string): void {
    this.#drop((x) => x.tenantId === tenantId && x.userId === userId);
  }

  get size(): number {
    return this.#entries.size;
  }

  async #cached(key: string, tenantId: string, userId: string, request: () => Promise<Token>): Promise<Token> {
    const now = this.s.clock.now().getTime();
    const hit = this.#entries.get(key);
    if (hit) {
      const token = await hit.token.catch(() => null);
      if (token && token.expiresAt - EXPIRY_MARGIN_MS > now) return token;
      if (this.#entries.get(key) === hit) this.#entries.delete(key);
    }
    const entry: Entry = { tenantId, userId, token: request() };
    this.#entries.set(key, entry);
    // Bounded after the set: a Graph token's request may have cached its assertion meanwhile (a nested miss).
    while (this.#entries.size > MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
    entry.token.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    return entry.token;
  }

  #drop(match: (e: Entry) => boolean): void {
    for (const [key, entry] of this.#entries) if (match(entry)) this.#entries.delete(key);
  }

  async #credential(t: TenantCtx, connector: ConnectorRow) {
    if (!connector.secretId) throw new MicrosoftToolFailure('credentials_invalid', "The organisation's Microsoft connector has no credentials. Ask your administrator to add it again.");
    return deserializeCredential(await this.s.vault.getString(t, connector.secretId));
  }

  /** Redeems the stored refresh token for an access token to our API (the OBO assertion); keeps the rotated one. */
  async #assertion(t: TenantCtx, connector: ConnectorRow, config: MicrosoftConfig, userId: string, links: RemedyLinks): Promise<Token> {
    const stored = await loadEntraToken(this.s, t, userId);
    if (!stored) throw notSignedIn(links);
    if (stored.clientId !== config.clientId) throw new MicrosoftToolFailure('reauth_required', `Your Microsoft sign-in was for another app registration. Sign in again: ${links.signIn}`, { kind: 'sign_in', url: links.signIn });
    const cca = await msalClient(config, await this.#credential(t, connector), stored.tid, this.s.clock.now().getTime(), this.s.egress.fetch).catch((err) => {
      throw tokenFailure(err, links, stored.tid);
    });
    let result;
    try {
      result = await cca.acquireTokenByRefreshToken({ refreshToken: stored.refreshToken, scopes: [config.apiScope], forceCache: true });
    } catch (err) {
      const f = tokenFailure(err, links, stored.tid);
      // A refresh token Entra refuses for good is deleted: the next call says "sign in again" without asking Entra.
      if (f.failure === 'reauth_required') await deleteEntraTokens(t, { secretId: stored.secretId });
      throw f;
    }
    if (!result?.accessToken) throw new MicrosoftToolFailure('microsoft_unavailable', 'Microsoft sign-in returned no token. Retry in a minute.', { kind: 'retry' });
    const rotated = refreshTokenInCache(cca);
    if (rotated && rotated !== stored.refreshToken) await rotateEntraToken(this.s, t, stored, rotated);
    return { accessToken: result.accessToken, expiresAt: result.expiresOn?.getTime() ?? this.s.clock.now().getTime() + 300_000 };
  }

  async #obo(t: TenantCtx, connector: ConnectorRow, config: MicrosoftConfig, userId: string, assertion: string, scopes: string[], links: RemedyLinks): Promise<Token> {
    const stored = await loadEntraToken(this.s, t, userId);
    if (!stored) throw notSignedIn(links);
    let result;
    try {
      const cca = await msalClient(config, await this.#credential(t, connector), stored.tid, this.s.clock.now().getTime(), this.s.egress.fetch);
      // skipCache: our cache decides reuse (and is dropped on revocation); the per-call msal cache dies with cca.
      result = await cca.acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes, skipCache: true });
    } catch (err) {
      throw tokenFailure(err, links, stored.tid);
    }
    if (!result?.accessToken) throw new MicrosoftToolFailure('microsoft_unavailable', 'Microsoft sign-in returned no token. Retry in a minute.', { kind: 'retry' });
    return { accessToken: result.accessToken, expiresAt: result.expiresOn?.getTime() ?? this.s.clock.now().getTime() + 300_000 };
  }
}

function notSignedIn(links: RemedyLinks): MicrosoftToolFailure {
  return new MicrosoftToolFailure('not_signed_in', `Microsoft 365 tools need your Microsoft sign-in. Sign in again through your organisation's SSO, then retry: ${links.signIn}`, { kind: 'sign_in', url: links.signIn });
}

const AADSTS = /AADSTS(\d{5,6})/;

/**
 * The sign-in link carrying Entra's claims challenge (JSON; CAE sends it base64-encoded), which our login passes on as
 * the `claims` request parameter so the interactive sign-in satisfies exactly what conditional access asked for.
 */
export function withClaims(signIn: string, claims: string | undefined): string {
  if (!claims) return signIn;
  let json = claims;
  if (!claims.trimStart().startsWith('{')) json = Buffer.from(claims, 'base64').toString('utf8');
  try {
    if (typeof JSON.parse(json) !== 'object' || json.length > 2048) return signIn;
  } catch {
    return signIn;
  }
  return `${signIn}${signIn.includes('?') ? '&' : '?'}claims=${encodeURIComponent(json)}`;
}

/**
 * Entra's answers, as msal surfaces them, in words the user can act on: consent missing (AADSTS65001) → the admin
 * consent link; a conditional-access / MFA claims challenge (`interaction_required` + `claims`) or an expired or
 * revoked refresh token (`invalid_grant`) → sign in again through our SSO; our app's credentials refused → the admin.
 */
export function tokenFailure(err: unknown, links: RemedyLinks, tid: string): MicrosoftToolFailure {
  if (err instanceof MicrosoftToolFailure) return err;
  if (!(err instanceof AuthError)) {
    const code = (err as { errorCode?: string }).errorCode;
    if (code === 'invalid_tenant') return new MicrosoftToolFailure('tenant_unknown', 'Microsoft does not know your organisation\'s directory. Ask your administrator to check the Microsoft connector.');
    return new MicrosoftToolFailure('microsoft_unavailable', 'Microsoft sign-in is unavailable right now. Retry in a minute.', { kind: 'retry' });
  }
  const text = `${err.errorCode} ${err.errorMessage} ${err.subError}`;
  const aadsts = AADSTS.exec(text)?.[1] ?? (err as { errorNo?: string }).errorNo ?? '';
  if (aadsts === '65001' || err.errorCode === 'consent_required' || err.subError === 'consent_required') {
    const url = links.adminConsent(tid);
    return new MicrosoftToolFailure('consent_required', `Your organisation has not consented to this tool's Microsoft 365 permissions. An administrator of your Microsoft Entra tenant must grant consent once at ${url} — then retry.`, { kind: 'admin_consent', url });
  }
  const claims = err instanceof InteractionRequiredAuthError ? err.claims : '';
  if (claims || err.errorCode === 'interaction_required' || aadsts === '50076' || aadsts === '50079' || aadsts === '53003') {
    const url = withClaims(links.signIn, claims);
    return new MicrosoftToolFailure('claims_challenge', `Your organisation's sign-in policy (conditional access or multi-factor authentication) requires you to sign in again before Microsoft 365 can be used. Sign in through your organisation's SSO, then retry: ${url}`, { kind: 'sign_in', url, ...(claims && { claims }) });
  }
  if (err.errorCode === 'invalid_grant' || err instanceof InteractionRequiredAuthError) {
    return new MicrosoftToolFailure('reauth_required', `Your Microsoft sign-in has expired or was revoked. Sign in again through your organisation's SSO, then retry: ${links.signIn}`, { kind: 'sign_in', url: links.signIn });
  }
  if (err.errorCode === 'invalid_client' || err.errorCode === 'unauthorized_client' || aadsts === '7000215' || aadsts === '700027') {
    return new MicrosoftToolFailure('credentials_invalid', "Microsoft refused the organisation's connector credentials (secret or certificate expired or wrong). Ask your administrator to run \"connector test\".");
  }
  return new MicrosoftToolFailure('microsoft_unavailable', `Microsoft sign-in failed (${err.errorCode}). Retry in a minute; if it persists, ask your administrator.`, { kind: 'retry' });
}

/** Retry policy of Graph calls (tests shorten the delays; production keeps the defaults). */
export interface GraphRetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface MicrosoftRuntime {
  tokens: MicrosoftTokenCache;
  retry: GraphRetryPolicy;
}

const runtimes = new WeakMap<object, MicrosoftRuntime>();

/** The node's Microsoft token cache and Graph retry policy for these services (one per bus). */
export function microsoftRuntime(s: Pick<Services, 'bus' | 'clock' | 'vault' | 'egress'>): MicrosoftRuntime {
  let r = runtimes.get(s.bus);
  if (!r) {
    r = { tokens: new MicrosoftTokenCache(s), retry: { attempts: 3, baseDelayMs: 500, maxDelayMs: 8_000 } };
    runtimes.set(s.bus, r);
  }
  return r;
}
