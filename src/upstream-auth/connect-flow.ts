import { createHash, randomBytes } from 'node:crypto';
import { exchangeAuthorization, startAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import { AppError, notFound } from '../lib/errors.js';
import type { Services } from '../services.js';
import { safeReturnTo } from '../sso/return-to.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { asFetch } from './as-fetch.js';
import { saveConnection } from './connection-store.js';
import { syncToolsAs } from './list-tools-as.js';
import { loadOAuthClient, promisesIss } from './upstream-oauth-client.js';
import { upstreamCallbackUrl } from './upstream-oauth-urls.js';

/** A started connect flow is good for this long (the user signs in and consents at the upstream meanwhile). */
export const CONNECT_STATE_TTL_MS = 10 * 60_000;

export interface BrowserSession {
  id: string;
  userId: string;
}

/** A connect flow that cannot finish: the page says why; nothing about tokens or the state is echoed. */
export class ConnectRefused extends AppError {
  constructor(message: string) {
    super(400, 'connect_refused', message);
  }
}

const hashState = (state: string) => createHash('sha256').update(state).digest('base64url');

/** The per-user upstream of this tenant with that name, or 404 (static upstreams have nothing to connect). */
export async function findPerUserUpstream(t: TenantCtx, name: string) {
  const up = await t.db.upstream.findFirst({ where: { name, authMode: 'oauth-per-user' }, select: { id: true, name: true, url: true } });
  if (!up) throw notFound('No such upstream to connect');
  return up;
}

/**
 * Starts the OAuth authorization code flow with PKCE S256 (OAuth 2.1 §4.1, RFC 7636) at the upstream's
 * authorization server, for the signed-in user, with `resource` = the upstream's MCP URL (RFC 8707; MCP
 * "Resource Parameter Implementation"). The `state` is random, stored only as a hash, single use, short-lived and
 * bound to this browser session and user, so a callback can only complete the flow the same person started here.
 */
export async function startConnect(s: Services, t: TenantCtx, session: BrowserSession, upstreamName: string, returnTo?: unknown): Promise<URL> {
  const up = await findPerUserUpstream(t, upstreamName);
  const client = await loadOAuthClient(s, t, up.id);
  const state = randomBytes(32).toString('base64url');
  const { authorizationUrl, codeVerifier } = await startAuthorization(client.asUrl, {
    metadata: client.metadata,
    clientInformation: client.clientInformation,
    redirectUrl: client.redirectUri,
    scope: client.scope,
    state,
    resource: new URL(client.resource),
  });
  const id = hashState(state);
  const verifierId = await s.vault.put(t, { kind: 'upstream-connect-verifier', id, userId: session.userId }, codeVerifier);
  const back = safeReturnTo(returnTo, '', s.config.publicUrl);
  await t.db.upstreamConnectState.create({
    data: {
      id,
      tenantId: t.id,
      upstreamId: up.id,
      userId: session.userId,
      sessionId: session.id,
      verifierId,
      redirectUri: client.redirectUri,
      returnTo: back.startsWith(`/t/${encodeURIComponent(t.slug)}/`) ? back : null,
      expiresAt: new Date(s.clock.now().getTime() + CONNECT_STATE_TTL_MS),
    },
  });
  return authorizationUrl;
}

/**
 * The redirect back from the upstream's authorization server, received at the redirect URI of `callbackUpstreamId`
 * (null: the tenant's shared one). Refused unless the `state` is one this tenant issued, unused, unexpired, for this
 * very browser session and user; the state is consumed before anything else (a replay finds nothing).
 *
 * Mix-up defence (RFC 9700 §4.4.2): the response must arrive at the redirect URI the flow was started with, which
 * only the upstream's own server has registered, and its `iss` (RFC 9207) must name that server when given, promised,
 * or when the client is our metadata document, which every server honours. Only then is the code exchanged (with
 * the PKCE verifier and `resource`) and the tokens stored.
 */
export async function finishConnect(
  s: Services,
  t: TenantCtx,
  session: BrowserSession | null,
  query: Record<string, unknown>,
  callbackUpstreamId: string | null,
): Promise<{ upstreamName: string; returnTo: string | null; denied: boolean }> {
  const state = query.state;
  if (typeof state !== 'string' || state.length === 0 || state.length > 512) throw new ConnectRefused('This connection request is not valid. Start connecting again.');
  const id = hashState(state);
  const row = await t.db.upstreamConnectState.findFirst({ where: { id } });
  if (!row) throw new ConnectRefused('This connection request has expired or was already used. Start connecting again.');
  const { count } = await t.db.upstreamConnectState.deleteMany({ where: { id } });
  const verifier = await s.vault.getString(t, row.verifierId).catch(() => null);
  await s.vault.remove(t, row.verifierId);
  if (count !== 1 || verifier === null) throw new ConnectRefused('This connection request has expired or was already used. Start connecting again.');
  if (row.expiresAt.getTime() <= s.clock.now().getTime()) throw new ConnectRefused('This connection request has expired. Start connecting again.');
  if (!session || session.id !== row.sessionId || session.userId !== row.userId) {
    throw new ConnectRefused('This connection was started by another sign-in. Start connecting again from this browser.');
  }
  if (row.redirectUri !== upstreamCallbackUrl(s.config.publicUrl, t, callbackUpstreamId)) {
    throw new ConnectRefused('The answer did not come from the expected sign-in service. Start connecting again.');
  }
  const client = await loadOAuthClient(s, t, row.upstreamId);
  const iss = query.iss;
  const issRequired = promisesIss(client.metadata) || client.registration === 'cimd';
  if ((iss !== undefined || issRequired) && (typeof iss !== 'string' || iss !== client.metadata.issuer)) {
    throw new ConnectRefused('The answer did not come from the expected sign-in service. Start connecting again.');
  }
  if (query.error !== undefined) return { upstreamName: client.upstreamName, returnTo: row.returnTo, denied: true };
  if (typeof query.code !== 'string' || query.code.length === 0) throw new ConnectRefused('The sign-in service sent no authorization code. Start connecting again.');
  let tokens;
  try {
    tokens = await exchangeAuthorization(client.asUrl, {
      metadata: client.metadata,
      clientInformation: client.clientInformation,
      authorizationCode: query.code,
      codeVerifier: verifier,
      redirectUri: row.redirectUri,
      resource: new URL(client.resource),
      fetchFn: asFetch(s.egress),
    });
  } catch (err) {
    s.logger.warn({ tenantId: t.id, upstreamId: row.upstreamId, err: String(err).slice(0, 200) }, 'upstream code exchange failed');
    throw new ConnectRefused(`${client.upstreamName} did not accept the sign-in. Start connecting again.`);
  }
  await saveConnection(s, t, row.upstreamId, row.userId, tokens);
  await s.audit.record(t, {
    actor: { kind: 'user', id: row.userId },
    action: 'upstream.connection.connect',
    target: { kind: 'upstream', id: row.upstreamId },
    outcome: 'success',
    detail: { upstream: client.upstreamName, registration: client.registration, scope: tokens.scope ?? null },
  });
  // An upstream whose tools were never listed (it needs a user's token to list them) is listed now, as this user.
  if ((await t.db.tool.count({ where: { upstreamId: row.upstreamId } })) === 0) {
    await syncToolsAs(s, t, { id: row.upstreamId, name: client.upstreamName, url: client.upstreamUrl }, tokens.access_token).catch((err: unknown) =>
      s.logger.warn({ tenantId: t.id, upstreamId: row.upstreamId, err: String(err).slice(0, 200) }, 'listing the tools of a per-user upstream failed'),
    );
  }
  return { upstreamName: client.upstreamName, returnTo: row.returnTo, denied: false };
}
