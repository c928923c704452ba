import * as oidc from 'openid-client';
import { newId } from '../lib/ids.js';
import type { Services } from '../services.js';
import { addOidcConnection } from '../sso/connections/add-oidc-connection.js';
import { defaultOidcMapping } from '../sso/connections/connection-config.js';
import { findConnectionByIssuer, type Connection } from '../sso/connections/manage-connections.js';
import { mapProfile } from '../sso/users/map-profile.js';
import { resolveSsoUser } from '../sso/users/resolve-sso-user.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { createInstalledTenant, findBinding, SignupClosedError } from './install-tenant.js';
import { onboardingMessages } from './onboarding-pages.js';

/** A refusal of an install flow: the page's status and message (onboarding-pages.ts), and a detail for the log only. */
export class OnboardingError extends Error {
  override name = 'OnboardingError';
  constructor(
    readonly status: number,
    readonly userMessage: string,
    readonly detail: string,
  ) {
    super(detail);
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Directory roles that can grant tenant-wide admin consent to delegated Graph permissions (Entra built-in role
 * template ids, carried in the ID token's `wids` claim with groupMembershipClaims=SecurityGroup): Global
 * Administrator, Privileged Role Administrator, Cloud Application Administrator, Application Administrator.
 */
export const CONSENT_ADMIN_ROLES = new Set([
  '62e90394-69f5-4237-9190-012177145e10',
  'e8611ab8-c189-46e8-94e1-60213ab1f814',
  '158c047a-c907-4556-b7ef-446551a6b5f7',
  '9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3',
]);

export function entraApp(s: Services): { clientId: string; clientSecret: string; authority: string } {
  const { clientId, clientSecret, authorityHost } = s.config.entra;
  if (!clientId || !clientSecret) throw new OnboardingError(503, onboardingMessages.notConfigured, 'ENTRA_CLIENT_ID / ENTRA_CLIENT_SECRET not set');
  return { clientId, clientSecret, authority: authorityHost };
}

export const entraCallbackUrl = (s: Services) => `${s.config.publicUrl}/onboarding/entra/callback`;
export const entraIssuer = (s: Services, tid: string) => `${s.config.entra.authorityHost}/${tid}/v2.0`;

/**
 * The v2 admin-consent request (Microsoft identity platform: `/{tenant}/v2.0/adminconsent`; `organizations` lets any
 * work or school tenant consent, never `common`). `scope=https://graph.microsoft.com/.default` consents every
 * permission of the app registration at once.
 */
export function adminConsentUrl(s: Services, state: string): string {
  const app = entraApp(s);
  const u = new URL(`${app.authority}/organizations/v2.0/adminconsent`);
  u.search = new URLSearchParams({ client_id: app.clientId, scope: 'https://graph.microsoft.com/.default', redirect_uri: entraCallbackUrl(s), state }).toString();
  return u.href;
}

/**
 * What the consent callback's query says. The `tenant` value is forgeable (anyone can type a callback URL): it is
 * only where the ID-token sign-in goes next; the tenant is bound only to the `tid` of a validated ID token.
 */
export function readConsentAnswer(q: URLSearchParams): { tid: string } {
  const error = q.get('error');
  if (error === 'access_denied') throw new OnboardingError(403, onboardingMessages.declined, `consent declined: ${q.get('error_description')?.slice(0, 200) ?? ''}`);
  if (error === 'consent_required' || error === 'interaction_required') throw new OnboardingError(403, onboardingMessages.consentRequired, `${error}: ${q.get('error_description')?.slice(0, 200) ?? ''}`);
  if (error) throw new OnboardingError(400, onboardingMessages.failed, `admin consent error ${error.slice(0, 64)}`);
  const tid = (q.get('tenant') ?? '').toLowerCase();
  if (q.get('admin_consent')?.toLowerCase() !== 'true' || !GUID.test(tid)) throw new OnboardingError(400, onboardingMessages.failed, 'admin consent answer without admin_consent=True and a tenant GUID');
  return { tid };
}

/** openid-client configuration of the consenting tenant's v2.0 issuer (validates `iss` = `{authority}/{tid}/v2.0`). */
export async function entraConfig(s: Services, tid: string): Promise<oidc.Configuration> {
  const app = entraApp(s);
  const issuer = entraIssuer(s, tid);
  const insecure = issuer.startsWith('http://') && s.config.nodeEnv !== 'production';
  const config = await oidc.discovery(new URL(issuer), app.clientId, { [oidc.clockTolerance]: 60 }, oidc.ClientSecretPost(app.clientSecret), insecure ? { execute: [oidc.allowInsecureRequests] } : undefined);
  oidc.enableNonRepudiationChecks(config);
  return config;
}

export interface EntraAdmin {
  tid: string;
  claims: oidc.IDToken;
}

/** The checks on the consenting admin's ID token: the consented directory, and a role that can consent. */
export function checkEntraAdmin(claims: oidc.IDToken, tid: string): EntraAdmin {
  if (String(claims.tid ?? '').toLowerCase() !== tid) throw new OnboardingError(403, onboardingMessages.tenantMismatch, `ID token tid ${String(claims.tid)} ≠ consented ${tid}`);
  const wids = Array.isArray(claims.wids) ? claims.wids.map(String) : [];
  if (!wids.some((w) => CONSENT_ADMIN_ROLES.has(w.toLowerCase()))) throw new OnboardingError(403, onboardingMessages.notAdmin, 'ID token carries no consent-capable directory role (wids)');
  return { tid, claims };
}

/**
 * Creates (or finds) the SSO Bridge tenant of a consenting Entra directory and signs the admin in through its OIDC
 * connection (multi-tenant app, shared callback, `tid` pinned). `into`: the flow was started by an admin of an
 * existing tenant to connect it; a directory bound to another tenant is refused either way.
 */
export async function installEntraTenant(s: Services, admin: EntraAdmin, into: TenantCtx | null): Promise<{ t: TenantCtx; conn: Connection; created: boolean; pending: boolean }> {
  const bound = await findBinding(s, 'entra', admin.tid);
  if (bound && into && bound.t.id !== into.id) throw new OnboardingError(409, onboardingMessages.boundElsewhere, `tid ${admin.tid} is bound to ${bound.t.id}, install started for ${into.id}`);
  if (bound && bound.status !== 'active') throw new OnboardingError(403, (bound.t.settings as { signup?: { status?: string } }).signup?.status === 'pending' ? onboardingMessages.pendingInstall : onboardingMessages.boundElsewhere, `tenant ${bound.t.id} is disabled`);
  const email = String(admin.claims.email ?? admin.claims.preferred_username ?? '').toLowerCase();
  const domain = email.includes('@') ? email.slice(email.lastIndexOf('@') + 1) : undefined;
  let t: TenantCtx;
  let created = false;
  let pending = false;
  if (bound) t = bound.t;
  else if (into) {
    t = into;
    await t.db.tenantBinding.create({ data: { id: newId('tbd'), tenantId: t.id, kind: 'entra', externalId: admin.tid } }).catch((err: { code?: string }) => {
      if (err.code === 'P2002') throw new OnboardingError(409, onboardingMessages.boundElsewhere, `tid ${admin.tid} bound concurrently`);
      throw err;
    });
  } else {
    try {
      ({ t, created, pending } = await createInstalledTenant(s, { name: domain ?? `Entra ${admin.tid.slice(0, 8)}`, binding: { kind: 'entra', externalId: admin.tid, ...(domain && { domain }) }, source: 'entra' }));
    } catch (err) {
      if (err instanceof SignupClosedError) throw new OnboardingError(403, onboardingMessages.signupClosed, 'invite-only: no tenant for a new Entra directory');
      throw err;
    }
  }
  const issuer = entraIssuer(s, admin.tid);
  let conn = await findConnectionByIssuer(t, 'oidc', issuer);
  // A tenant the directory is already bound to keeps the connections its admins chose: an install does not bring back
  // one they removed or switched off (any consent-capable admin of the directory can start an install); the tenant's
  // own admin connecting it again (`into`) does.
  if (!conn && bound && !into) throw new OnboardingError(403, onboardingMessages.entraSignInOff, `tenant ${t.id} has no enabled connection for ${issuer}`);
  if (!conn) {
    const app = entraApp(s);
    // The deployment's multi-tenant app, the shared callback, and `tid` pinned: no other directory signs in here.
    await addOidcConnection(s, t, { issuer, clientId: app.clientId, clientSecret: app.clientSecret, clientAuth: 'client_secret_post', sharedCallback: true, requiredClaims: { tid: admin.tid }, name: 'Microsoft Entra ID', allowedDomains: domain ? [domain] : [] });
    conn = (await findConnectionByIssuer(t, 'oidc', issuer))!;
    await s.bus.publish({ type: 'tenant.changed', tenantId: t.id });
  }
  return { t, conn, created, pending };
}

/** The consenting admin as a user of the tenant (JIT through the connection, like any later sign-in), made admin on a new tenant. */
export async function entraFirstAdmin(s: Services, t: TenantCtx, conn: Connection, admin: EntraAdmin, makeAdmin: boolean) {
  const profile = mapProfile(String(admin.claims.sub), { ...admin.claims }, defaultOidcMapping, conn.config.mapping);
  const user = await resolveSsoUser(t, conn, profile, s.clock.now(), (userId) => s.bus.publish({ type: 'user.changed', tenantId: t.id, userId }));
  if (makeAdmin) await t.db.user.updateMany({ where: { id: user.id }, data: { isAdmin: true } });
  return user;
}
