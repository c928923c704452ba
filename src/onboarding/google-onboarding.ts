import * as oidc from 'openid-client';
import { createConnector } from '../connectors/connector-store.js';
import { loadGoogleapis } from '../connectors/google/google-call.js';
import { GoogleConfigSchema } from '../connectors/google/google-config.js';
import { publisherKey } from '../connectors/google/publisher-key.js';
import { requestGoogleToken } from '../connectors/google/google-token.js';
import { googleToolProvider } from '../connectors/google/google-tools.js';
import type { ServiceAccountKey } from '../connectors/google/service-account-key.js';
import type { Services } from '../services.js';
import { addOidcConnection } from '../sso/connections/add-oidc-connection.js';
import { findConnectionByIssuer } from '../sso/connections/manage-connections.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { OnboardingError } from './entra-onboarding.js';
import { createInstalledTenant, findBinding, SignupClosedError } from './install-tenant.js';
import { onboardingMessages } from './onboarding-pages.js';

const G = 'https://www.googleapis.com/auth/';
export const googleCallbackUrl = (s: Services) => `${s.config.publicUrl}/onboarding/google/callback`;

export function googleApp(s: Services) {
  const { clientId, clientSecret, issuer, marketplaceAppId } = s.config.google;
  if (!clientId || !clientSecret || !marketplaceAppId) throw new OnboardingError(503, onboardingMessages.notConfigured, 'GOOGLE_OAUTH_CLIENT_ID / _SECRET / GOOGLE_MARKETPLACE_APP_ID not set');
  return { clientId, clientSecret, issuer, marketplaceAppId };
}

export async function googleOidcConfig(s: Services): Promise<oidc.Configuration> {
  const app = googleApp(s);
  const insecure = app.issuer.startsWith('http://') && s.config.nodeEnv !== 'production';
  const config = await oidc.discovery(new URL(app.issuer), app.clientId, { [oidc.clockTolerance]: 60 }, oidc.ClientSecretPost(app.clientSecret), insecure ? { execute: [oidc.allowInsecureRequests] } : undefined);
  oidc.enableNonRepudiationChecks(config);
  return config;
}

async function publisher(s: Services): Promise<ServiceAccountKey> {
  const key = await publisherKey(s.vault, s.db);
  if (!key) throw new OnboardingError(503, onboardingMessages.notConfigured, 'no publisher service account (marketplace set-service-account)');
  return key;
}

async function api(s: Services, token: string) {
  const google = await loadGoogleapis();
  const auth = new google.auth.OAuth2();
  auth.setCredentials({ access_token: token });
  return { google, options: { auth, ...(s.config.google.apiRoot && { rootUrl: s.config.google.apiRoot }), retry: false } };
}

/**
 * The signer as the Directory API knows them, read with the publisher's key impersonating them (domain-wide
 * delegation the Marketplace install granted): their Workspace customer id and whether they are a super admin.
 * Google refusing the delegation means the domain has not installed the app (or uninstalled it).
 */
export async function workspaceUser(s: Services, email: string): Promise<{ customerId: string; isAdmin: boolean }> {
  const key = await publisher(s);
  let token;
  try {
    token = await requestGoogleToken(key, email, [`${G}admin.directory.user.readonly`], s.clock, fetch);
  } catch (err) {
    throw new OnboardingError(403, onboardingMessages.notInstalled, `delegation refused for the signer: ${(err as Error).message}`);
  }
  const { google, options } = await api(s, token.accessToken);
  try {
    const res = await google.admin({ version: 'directory_v1', ...options }).users.get({ userKey: email, projection: 'basic' });
    if (!res.data.customerId) throw new Error('no customerId');
    return { customerId: res.data.customerId, isAdmin: res.data.isAdmin === true };
  } catch (err) {
    const status = (err as { response?: { status?: number } }).response?.status;
    if (status === 403) throw new OnboardingError(403, onboardingMessages.notAdmin, 'Directory API refused users.get for the signer (not an admin)');
    throw err;
  }
}

/** Apps Marketplace licence of a customer (`customerLicense.get`): true while `state` is ACTIVE. */
export async function customerLicensed(s: Services, customerId: string): Promise<boolean> {
  const key = await publisher(s);
  const token = await requestGoogleToken(key, key.client_email, [`${G}appsmarketplace.license`], s.clock, fetch);
  const { google, options } = await api(s, token.accessToken);
  try {
    const res = await google.appsmarket({ version: 'v2', ...options }).customerLicense.get({ applicationId: googleApp(s).marketplaceAppId, customerId });
    return res.data.state === 'ACTIVE';
  } catch (err) {
    if ((err as { response?: { status?: number } }).response?.status === 404) return false;
    throw err;
  }
}

/**
 * A first sign-in from a Workspace domain: the tenant bound to the customer id is found, or created (signup policy)
 * when the signer is a super admin and the domain holds an active licence; it gets an OIDC connection for Google
 * (the deployment's OAuth client, shared callback, `hd` pinned) and a Google connector signing with the publisher's
 * key. Returns the tenant and whether the signer becomes its first admin.
 */
export async function installGoogleTenant(s: Services, claims: oidc.IDToken): Promise<{ t: TenantCtx; created: boolean; pending: boolean; customerId: string }> {
  const hd = String(claims.hd ?? '').toLowerCase();
  const email = String(claims.email ?? '').toLowerCase();
  if (!hd || claims.email_verified !== true || !email.endsWith(`@${hd}`)) throw new OnboardingError(403, onboardingMessages.notWorkspace, `hd=${hd || '(none)'} email_verified=${String(claims.email_verified)}`);
  const user = await workspaceUser(s, email);
  if (!(await customerLicensed(s, user.customerId))) throw new OnboardingError(403, onboardingMessages.notInstalled, `customer ${user.customerId} has no active licence`);
  const bound = await findBinding(s, 'google', user.customerId);
  if (bound && bound.status !== 'active') throw new OnboardingError(403, onboardingMessages.pendingInstall, `tenant ${bound.t.id} is disabled`);
  if (bound) return { t: bound.t, created: false, pending: false, customerId: user.customerId };
  if (!user.isAdmin) throw new OnboardingError(403, onboardingMessages.notAdmin, 'first sign-in of a domain by a non-admin');
  let created;
  try {
    created = await createInstalledTenant(s, { name: hd, binding: { kind: 'google', externalId: user.customerId, domain: hd }, source: 'google' });
  } catch (err) {
    if (err instanceof SignupClosedError) throw new OnboardingError(403, onboardingMessages.signupClosed, 'invite-only: no tenant for a new Workspace customer');
    throw err;
  }
  const t = created.t;
  const app = googleApp(s);
  if (created.created && !(await findConnectionByIssuer(t, 'oidc', app.issuer))) {
    await addOidcConnection(s, t, { issuer: app.issuer, clientId: app.clientId, clientSecret: app.clientSecret, clientAuth: 'client_secret_post', sharedCallback: true, requiredClaims: { hd }, allowedDomains: [hd], name: 'Google Workspace' });
    const key = await publisher(s);
    const config = GoogleConfigSchema.parse({ clientId: key.client_id, clientEmail: key.client_email, adminEmail: email, customerId: user.customerId, domains: [hd], keySource: 'publisher', ...(s.config.google.apiRoot && { apiRoot: s.config.google.apiRoot }) });
    await createConnector(s, t, { kind: 'google', config, secret: null }, googleToolProvider);
    await s.bus.publish({ type: 'tenant.changed', tenantId: t.id });
  }
  return { t, created: created.created, pending: created.pending, customerId: user.customerId };
}

/**
 * The licence check (no install webhook exists: `licenseNotification` is deprecated): every active Google-bound
 * tenant whose customer no longer holds an active licence (uninstalled, or licence ended) is disabled.
 */
export async function checkGoogleLicenses(s: Services): Promise<{ checked: number; disabled: string[] }> {
  if (!s.config.google.marketplaceAppId || !(await publisherKey(s.vault, s.db))) return { checked: 0, disabled: [] };
  const rows = await s.db.tenantBinding.findMany({ where: { kind: 'google', status: 'active' }, include: { tenant: true } });
  const disabled: string[] = [];
  for (const b of rows) {
    const ok = await customerLicensed(s, b.externalId);
    await s.db.tenantBinding.update({ where: { id: b.id }, data: { checkedAt: s.clock.now(), ...(!ok && { status: 'unlicensed' }) } });
    if (ok) continue;
    await s.db.tenant.update({ where: { id: b.tenantId }, data: { status: 'disabled' } });
    await s.bus.publish({ type: 'tenant.changed', tenantId: b.tenantId });
    await s.audit.record(null, { actor: { kind: 'system' }, action: 'tenant.disable', target: { kind: 'tenant', id: b.tenantId }, outcome: 'success', detail: { reason: 'google_marketplace_unlicensed', customerId: b.externalId } });
    disabled.push(b.tenant.slug);
  }
  return { checked: rows.length, disabled };
}
