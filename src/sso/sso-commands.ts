import type { Command } from '../cli/command-table.js';
import { audited, tenantArg, tenantOption } from '../cli/command-table.js';
import { badRequest } from '../lib/errors.js';
import { grantAdmin } from './admin/tenant-admins.js';
import { addOidcConnection } from './connections/add-oidc-connection.js';
import { addSamlConnection } from './connections/add-saml-connection.js';
import { listConnections, removeConnection } from './connections/manage-connections.js';
import { refreshFromCli } from './saml/refresh-metadata.js';
import { DEFAULT_OVERLAP_DAYS, rotateSpKey } from './saml/rotate-sp-key.js';
import { showSsoTrace } from './traces/sso-traces.js';
import { bindUser } from './users/bind-user.js';
import { commonInput, commonOptions, list, mappingOption, matchByOption, onOff, str } from './cli-options.js';
import { updateConnection } from './connections/update-connection.js';

const tenant = tenantOption;
const common = commonOptions;

/** SSO commands: IdP connections, admin bootstrap, SSO traces. */
export const ssoCommands: Command[] = [
  {
    name: 'idp add-saml',
    summary: 'trust a SAML IdP (its metadata from a URL, refreshed periodically, or a file)',
    options: {
      tenant,
      'metadata-url': { type: 'string', description: 'IdP metadata URL (https in production)' },
      'metadata-file': { type: 'string', description: 'IdP metadata XML file' },
      'metadata-cert': { type: 'string', description: 'PEM file: the certificate that signs the metadata (a signature is then required)' },
      ...common,
    },
    forwardable: true,
    run: audited('idp.add', 'idp-connection', (s, t, o) =>
      addSamlConnection(s, t, { ...commonInput(o), metadataUrl: str(o['metadata-url']), metadataFile: str(o['metadata-file']), metadataCertFile: str(o['metadata-cert']) }),
    ),
  },
  {
    name: 'idp add-oidc',
    summary: 'trust an OIDC IdP (authorization code + PKCE); the client secret is kept in the vault',
    options: {
      tenant,
      issuer: { type: 'string', required: true, description: 'issuer URL (discovery at /.well-known/openid-configuration)' },
      'client-id': { type: 'string', required: true, description: 'client id registered at the IdP' },
      'client-secret': { type: 'string', required: true, secret: true, description: 'client secret' },
      'client-auth': { type: 'string', description: 'client_secret_basic (default) or client_secret_post' },
      'shared-callback': { type: 'boolean', description: 'use PUBLIC_URL/oidc/callback (multi-tenant app registrations)' },
      'require-claim': { type: 'string', multiple: true, description: 'NAME=VALUE the ID token must carry (e.g. hd=example.com)' },
      ...common,
    },
    forwardable: true,
    run: audited('idp.add', 'idp-connection', async (s, t, o) => {
      const requiredClaims = Object.fromEntries(
        list(o['require-claim']).map((kv) => {
          const i = kv.indexOf('=');
          if (i < 1) throw badRequest('--require-claim takes NAME=VALUE');
          return [kv.slice(0, i), kv.slice(i + 1)];
        }),
      );
      return addOidcConnection(s, t, {
        ...commonInput(o),
        issuer: str(o.issuer) ?? '',
        clientId: str(o['client-id']) ?? '',
        clientSecret: str(o['client-secret']) ?? '',
        clientAuth: (str(o['client-auth']) ?? 'client_secret_basic') as 'client_secret_basic',
        sharedCallback: o['shared-callback'] === true,
        requiredClaims,
      });
    }),
  },
  {
    name: 'idp refresh',
    summary: "re-read a SAML connection's metadata now (from its URL, or from --metadata-file)",
    options: { tenant, id: { type: 'string', required: true, description: 'connection id (idp_…)' }, 'metadata-file': { type: 'string', description: 'new IdP metadata XML file' } },
    forwardable: true,
    run: audited('idp.refresh', 'idp-connection', (s, t, o) =>
      refreshFromCli(s, t, str(o.id) ?? '', str(o['metadata-file'])),
    ),
  },
  {
    name: 'idp update',
    summary: 'change a connection: name, on/off, JIT, IdP-initiated (SAML), allowed domains (replaced), matching rule, mapping (replaced)',
    options: {
      tenant,
      id: { type: 'string', required: true, description: 'connection id (idp_…)' },
      name: common.name!,
      enabled: { type: 'string', values: ['on', 'off'], description: 'on or off' },
      jit: { type: 'string', values: ['on', 'off'], description: 'on or off' },
      'idp-initiated': {
        type: 'string',
        values: ['on', 'off'],
        description: 'SAML: on or off (off for new connections) — accept IdP-initiated sign-in (dashboard tiles); such a sign-in cannot be bound to the browser, so a forged one can sign a victim into the sender\'s account (docs/sso.md)',
      },
      'allowed-domain': common['allowed-domain']!,
      'match-by': common['match-by']!,
      map: common.map!,
      'id-jag': { type: 'string', values: ['on', 'off'], description: 'on or off — trust this OIDC IdP as an ID-JAG issuer (docs/cross-app-access.md)' },
      'accept-unsigned-assertions': { type: 'string', description: 'SAML: on = a signed Response with an unsigned assertion is accepted (default off)' },
    },
    forwardable: true,
    run: audited('idp.update', 'idp-connection', async (s, t, o) => {
      const domains = list(o['allowed-domain']);
      return updateConnection(s, t, str(o.id) ?? '', {
        name: str(o.name),
        enabled: onOff(o, 'enabled'),
        jitEnabled: onOff(o, 'jit'),
        allowedDomains: domains.length ? domains : undefined,
        matchBy: matchByOption(o),
        mapping: mappingOption(o),
        idJag: onOff(o, 'id-jag'),
        idpInitiated: onOff(o, 'idp-initiated'),
        acceptUnsignedAssertions: onOff(o, 'accept-unsigned-assertions'),
      });
    }),
  },
  {
    name: 'idp list',
    summary: "list a tenant's IdP connections (never secrets)",
    options: { tenant },
    forwardable: true,
    run: async (s, o) => ({ connections: await listConnections(await tenantArg(s, o)) }),
  },
  {
    name: 'idp remove',
    summary: 'remove an IdP connection (its user links and stored secret go with it)',
    options: { tenant, id: { type: 'string', required: true, description: 'connection id (idp_…)' } },
    forwardable: true,
    run: audited('idp.remove', 'idp-connection', (s, t, o) =>
      removeConnection(s, t, str(o.id) ?? ''),
    ),
  },
  {
    name: 'idp rotate-sp-key',
    summary: "rotate the tenant's SAML SP keys: the next ones are published now, signing switches after the overlap",
    options: { tenant, 'overlap-days': { type: 'string', description: `days both keys are published (default ${DEFAULT_OVERLAP_DAYS}; 0 = switch now)` } },
    forwardable: true,
    run: audited('saml.sp-key.rotate', 'tenant', async (s, t, o) => ({
      id: t.id,
      ...(await rotateSpKey(s, t, o['overlap-days'] === undefined ? undefined : Number(str(o['overlap-days'])))),
    })),
  },
  {
    name: 'admin grant',
    summary: 'make a user a tenant admin (bootstrap; admins also come from the tenant admin group)',
    options: { tenant, email: { type: 'string', required: true, description: "the user's e-mail or userName" } },
    forwardable: true,
    run: async (s, o) => {
      const t = await tenantArg(s, o);
      const result = await grantAdmin(t, str(o.email) ?? '');
      await s.audit.record(t, { actor: { kind: 'admin-cli' }, action: 'admin.grant', target: { kind: 'user', id: result.id }, outcome: 'success' });
      return result;
    },
  },
  {
    name: 'user bind',
    summary: 'let only one IdP connection link and sign in a user (`--connection none` unbinds)',
    options: {
      tenant,
      email: { type: 'string', required: true, description: "the user's e-mail or userName" },
      connection: { type: 'string', required: true, description: 'connection id (idp_…), or none' },
    },
    forwardable: true,
    run: audited('user.bind', 'user', (s, t, o) => bindUser(t, str(o.email) ?? '', str(o.connection) ?? '')),
  },
  {
    name: 'sso-trace show',
    summary: 'show a failed-login trace by the id on the error page',
    options: { id: { type: 'string', required: true, positional: true, description: 'trace id (trc_…)' } },
    forwardable: true,
    run: async (s, o) => showSsoTrace(s, str(o.id) ?? ''),
  },
];
