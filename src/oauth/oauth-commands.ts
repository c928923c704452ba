import { audited, optionList, tenantArg, tenantOption, type Command, type OptionValue } from '../cli/command-table.js';
import { badRequest } from '../lib/errors.js';
import { CROSS_APP_GRANTS, type CrossAppGrantName } from './cross-app/grant-types.js';
import { addClient, listClients, removeClient } from './manage-clients.js';
import { rotateSigningKeys } from './signing-keys.js';

const tenant = tenantOption;
const str = (v: OptionValue) => (typeof v === 'string' ? v : '');
const list = optionList;


/** `client …` and `oauth rotate-keys` admin commands (docs/oauth.md). */
export const oauthCommands: Command[] = [
  {
    name: 'client add',
    summary: 'pre-register an OAuth client (prints client_id, and client_secret once for confidential/SCIM clients)',
    options: {
      tenant,
      name: { type: 'string', required: true, description: 'client name shown on the consent page' },
      'redirect-uri': { type: 'string', multiple: true, description: 'redirect URI (repeatable); https, loopback http, or a private-use scheme' },
      scim: { type: 'boolean', description: 'machine client for SCIM provisioning (client credentials, scope scim)' },
      confidential: { type: 'boolean', description: 'issue a client secret (interactive clients are public by default)' },
      'token-auth': { type: 'string', description: 'client_secret_basic or client_secret_post (SCIM default: post)' },
      grant: { type: 'string', multiple: true, description: 'jwt-bearer (ID-JAG) or token-exchange (RFC 8693), repeatable; makes the client confidential' },
      'id-jag-idp': { type: 'string', multiple: true, description: 'connection id (idp_…) whose ID-JAGs may name this client, repeatable (default: any --id-jag on connection)' },
    },
    forwardable: true,
    run: audited('oauth.client.add', 'oauth-client', (s, t, o) => {
      const auth = str(o['token-auth']);
      return addClient(s, t, {
        name: str(o.name),
        redirectUris: list(o['redirect-uri']),
        scim: o.scim === true,
        confidential: o.confidential === true,
        tokenAuthMethod: auth === 'client_secret_basic' || auth === 'client_secret_post' ? auth : undefined,
        grants: list(o.grant).map((g) => {
          if (!Object.hasOwn(CROSS_APP_GRANTS, g)) throw badRequest(`--grant takes ${Object.keys(CROSS_APP_GRANTS).join(' or ')}`);
          return g as CrossAppGrantName;
        }),
        idJagIdps: list(o['id-jag-idp']),
      });
    }),
  },
  {
    name: 'client list',
    summary: "list a tenant's OAuth clients (pre-registered and dynamically registered; never secrets)",
    options: { tenant },
    forwardable: true,
    run: async (s, o) => ({ clients: await listClients(await tenantArg(s, o)) }),
  },
  {
    name: 'client remove',
    summary: 'remove an OAuth client and end every grant and token it holds',
    options: { tenant, 'client-id': { type: 'string', required: true, description: 'client_id' } },
    forwardable: true,
    run: audited('oauth.client.remove', 'oauth-client', (s, t, o) => removeClient(s, t, str(o['client-id']))),
  },
  {
    name: 'oauth rotate-keys',
    summary: "rotate the tenant's token signing key (previous keys stay published for verification)",
    options: { tenant },
    forwardable: true,
    run: audited('oauth.keys.rotate', 'oauth-client', async (s, t) => ({ id: t.id, ...(await rotateSigningKeys(s, t)) })),
  },
];
