import { badRequest } from '../../lib/errors.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { createConnector } from '../connector-store.js';
import { emailDomain, GoogleConfigSchema } from './google-config.js';
import { directorySyncExtraScopes, KEY_CHECK_SCOPE, toolGoogleScopes } from './google-scopes.js';
import { GoogleTokenError, requestGoogleToken } from './google-token.js';
import { googleToolProvider } from './google-tools.js';
import { parseServiceAccountKey } from './service-account-key.js';

export interface AddGoogleInput {
  serviceAccountKey: string;
  adminEmail: string;
  customerId?: string;
  domains: string[];
  apiRoot?: string;
}

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,253}$/;

function checkApiRoot(url: string | undefined): string | undefined {
  if (url === undefined || url === '') return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badRequest('--api-root must be an absolute http(s) URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw badRequest('--api-root must use https (or http)');
  if (u.username || u.password || u.search || u.hash) throw badRequest('--api-root must be a bare origin/path (no credentials, query or fragment)');
  return u.href.endsWith('/') ? u.href : `${u.href}/`;
}

/**
 * Connects a tenant's Google Workspace: checks the service-account key with a real JWT-bearer token request as the
 * admin (a key Google refuses is never stored), stores it in the vault, creates the Google tools unapproved, and
 * returns what the Google admin must enter on the domain-wide delegation screen.
 */
export async function addGoogleConnector(s: Services, t: TenantCtx, input: AddGoogleInput) {
  const key = parseServiceAccountKey(input.serviceAccountKey);
  const adminEmail = input.adminEmail.trim().toLowerCase();
  if (!EMAIL.test(adminEmail)) throw badRequest('--admin-email must be an e-mail address');
  const domains = [...new Set((input.domains.length ? input.domains : [emailDomain(adminEmail)]).map((d) => d.trim().toLowerCase()))];
  const bad = domains.find((d) => !DOMAIN.test(d));
  if (bad !== undefined) throw badRequest(`--domain "${bad.slice(0, 100)}" is not a domain name`);
  const customerId = input.customerId?.trim() || 'my_customer';
  if (!/^[A-Za-z0-9_]{1,64}$/.test(customerId)) throw badRequest('--customer-id: letters, digits, underscore (e.g. C01abc23d)');
  const apiRoot = checkApiRoot(input.apiRoot);

  let delegation: 'granted' | 'not_granted';
  try {
    await requestGoogleToken(key, adminEmail, [KEY_CHECK_SCOPE], s.clock, s.egress.fetch);
    delegation = 'granted';
  } catch (err) {
    if (!(err instanceof GoogleTokenError)) throw err;
    // unauthorized_client: the key signed correctly but delegation is not granted yet (the admin does it next).
    if (err.code !== 'unauthorized_client') throw badRequest(`Google refused the service account key (${err.code}: ${err.message})`);
    delegation = 'not_granted';
  }
  const config = GoogleConfigSchema.parse({ clientId: key.client_id, clientEmail: key.client_email, adminEmail, customerId, domains, ...(apiRoot && { apiRoot }) });
  const row = await createConnector(s, t, { kind: 'google', config, secret: input.serviceAccountKey }, googleToolProvider);
  return {
    id: row.id,
    kind: 'google',
    clientId: key.client_id,
    clientEmail: key.client_email,
    domains,
    keyCheck: { scope: KEY_CHECK_SCOPE, delegation },
    tools: googleToolProvider.tools.map((x) => x.name),
    dwd: {
      where: 'Google Admin console → Security → Access and data control → API controls → Manage Domain Wide Delegation → Add new',
      clientId: key.client_id,
      // Exactly the union of the tools' scopes (comma-separated, as the screen takes them): least privilege.
      scopes: toolGoogleScopes().join(','),
      // Only for directory sync (tenant settings --provisioning directory-sync) and granting tools to Google groups.
      directorySyncScopes: directorySyncExtraScopes().join(','),
    },
  };
}
