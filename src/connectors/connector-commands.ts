import type { Command, OptionSpec, OptionValue } from '../cli/command-table.js';
import { audited, optionList, tenantArg, tenantOption } from '../cli/command-table.js';
import { badRequest } from '../lib/errors.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { getConnector, listConnectors, removeConnector, type ConnectorRow } from './connector-store.js';
import { addGoogleConnector } from './google/add-google.js';
import { testGoogleConnector } from './google/test-google.js';
import { addMicrosoftConnector } from './microsoft/add-microsoft.js';
import { testMicrosoftConnector } from './microsoft/test-microsoft.js';
import { addOktaConnector } from './okta/add-okta.js';
import { searchIdpGroups } from './okta/okta-groups.js';
import { testOktaConnector } from './okta/test-okta.js';
import { runDirectorySync } from './run-directory-sync.js';

const tenant = tenantOption;
const connectorId: OptionSpec = { type: 'string', description: 'connector id (con_…); optional when the tenant has one connector' };
const str = (v: OptionValue) => (typeof v === 'string' ? v : undefined);

/** Per-kind test. */
async function testConnector(s: Services, t: TenantCtx, row: ConnectorRow) {
  if (row.kind === 'google') return testGoogleConnector(s, t, row);
  if (row.kind === 'microsoft') return testMicrosoftConnector(s, t, row);
  if (row.kind === 'okta') return testOktaConnector(s, t, row);
  throw badRequest(`No test for ${row.kind} connectors yet`);
}

/** `connector …` admin commands (docs/connectors/). */
export const connectorCommands: Command[] = [
  {
    name: 'connector add-google',
    summary: 'connect Google Workspace via a service account with domain-wide delegation (key checked with Google, kept in the vault; prints the DWD scopes)',
    options: {
      tenant,
      'service-account': { type: 'string', required: true, secret: true, description: 'service account key JSON (give it as --service-account-file key.json)' },
      'admin-email': { type: 'string', required: true, description: 'a Google Workspace admin to act as for the key check and directory sync' },
      'customer-id': { type: 'string', description: 'Google Workspace customer id (default my_customer)' },
      domain: { type: 'string', multiple: true, description: 'domain whose users may use the tools (repeatable; default: the admin e-mail\'s domain)' },
      'api-root': { type: 'string', description: 'Google API root URL (Private Service Connect); default https://<api>.googleapis.com/' },
    },
    forwardable: true,
    run: audited('connector.add', 'connector', (s, t, o) =>
      addGoogleConnector(s, t, {
        serviceAccountKey: str(o['service-account']) ?? '',
        adminEmail: str(o['admin-email']) ?? '',
        customerId: str(o['customer-id']),
        domains: optionList(o.domain),
        apiRoot: str(o['api-root']),
      }),
    ),
  },
  {
    name: 'connector add-microsoft',
    summary: 'connect Microsoft 365 via Graph on-behalf-of: the Entra app registration used for SSO, with its certificate (preferred) or client secret kept in the vault; prints the permissions to consent',
    options: {
      tenant,
      'client-id': { type: 'string', required: true, description: 'application (client) id of the Entra app registration (the same as the OIDC connection\'s)' },
      'client-secret': { type: 'string', secret: true, description: 'client secret (give it as --client-secret-file F)' },
      certificate: { type: 'string', secret: true, description: 'PEM certificate + unencrypted RSA private key (give it as --certificate-file F); preferred over a secret' },
      cloud: { type: 'string', description: 'global (default), usgov (GCC High), usgovdod (DoD) or china (21Vianet)' },
      'authority-host': { type: 'string', description: 'Entra authority origin, https (overrides --cloud; with --graph-endpoint)' },
      'graph-endpoint': { type: 'string', description: 'Microsoft Graph origin, https (overrides --cloud; with --authority-host)' },
      'api-scope': { type: 'string', description: 'scope of your exposed API used as the OBO assertion (default api://<client-id>/access_as_user)' },
    },
    forwardable: true,
    run: audited('connector.add', 'connector', (s, t, o) =>
      addMicrosoftConnector(s, t, {
        clientId: str(o['client-id']) ?? '',
        clientSecret: str(o['client-secret']),
        certificate: str(o.certificate),
        cloud: str(o.cloud),
        authorityHost: str(o['authority-host']),
        graphEndpoint: str(o['graph-endpoint']),
        apiScope: str(o['api-scope']),
        }),
      ),
    },
    {
    name: 'connector add-okta',
    summary: 'connect an Okta org to read its users, groups and app assignments (OAuth service app with a private key, or an API token; checked with Okta, kept in the vault)',
    options: {
      tenant,
      'org-url': { type: 'string', required: true, description: 'the Okta org URL, an https origin (e.g. https://acme.okta.com)' },
      'client-id': { type: 'string', description: 'client id of the OAuth 2.0 service app (recommended mode; with --private-key-file)' },
      'private-key': { type: 'string', secret: true, description: "the service app's private key, PEM or private JWK (give it as --private-key-file key.pem)" },
      'key-id': { type: 'string', description: 'the kid of the public key registered with the service app (when it has several)' },
      'api-token': { type: 'string', secret: true, description: 'an SSWS API token of a read-only admin (give it as --api-token-file token.txt)' },
      'app-id': { type: 'string', description: 'id of the Okta app integration users sign in to this tenant with (default: found from the tenant\'s SSO connections)' },
    },
    forwardable: true,
    run: audited('connector.add', 'connector', (s, t, o) =>
      addOktaConnector(s, t, {
        orgUrl: str(o['org-url']) ?? '',
        apiToken: str(o['api-token']),
        clientId: str(o['client-id']),
        privateKey: str(o['private-key']),
        keyId: str(o['key-id']),
        appId: str(o['app-id']),
      }),
    ),
  },
  {
    name: 'connector groups',
    summary: "list or search the IdP's groups (Okta: name starts with --search), to grant tools to a group before anyone from it arrived (tool approve --idp-group ID)",
    options: {
      tenant,
      search: { type: 'string', description: 'the start of the group name (case-insensitive)' },
      limit: { type: 'string', description: 'at most this many groups (1–200, default 50)' },
    },
    forwardable: true,
    run: async (s, o) => {
      const t = await tenantArg(s, o);
      const limit = str(o.limit);
      if (limit !== undefined && !/^\d{1,3}$/.test(limit)) throw badRequest('--limit: a number from 1 to 200');
      return searchIdpGroups(s, t, { search: str(o.search), limit: limit === undefined ? undefined : Number(limit) });
    },
  },
  {
    name: 'connector list',
    summary: "list a tenant's connectors (credentials are never shown)",
    options: { tenant },
    forwardable: true,
    run: async (s, o) => ({ connectors: await listConnectors(await tenantArg(s, o)) }),
  },
  {
    name: 'connector test',
    summary: 'check a connector against its API: per scope, whether delegation/consent is granted',
    options: { tenant, id: connectorId },
    forwardable: true,
    run: async (s, o) => {
      const t = await tenantArg(s, o);
      return testConnector(s, t, await getConnector(t, str(o.id)));
    },
  },
  {
    name: 'connector remove',
    summary: 'remove a connector with its tools, their grants and its stored credentials',
    options: { tenant, id: connectorId },
    forwardable: true,
    run: audited('connector.remove', 'connector', (s, t, o) => removeConnector(s, t, str(o.id))),
  },
  {
    name: 'connector sync-directory',
    summary: "reconcile the tenant's users and groups with its Google directory now (as SCIM would); --dry-run prints the changes only",
    options: { tenant, 'dry-run': { type: 'boolean', description: 'report the changes without making them' } },
    forwardable: true,
    run: async (s, o) => {
      const t = await tenantArg(s, o);
      return runDirectorySync(s, t, { dryRun: o['dry-run'] === true });
    },
  },
];
