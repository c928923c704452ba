/**
 * Console form fields → admin action input (src/admin/actions). Forms post `application/x-www-form-urlencoded`; the
 * action's own schema validates the result exactly as for the CLI and the JSON API.
 */
import { badRequest } from '../../lib/errors.js';
import { IDP_GROUP_SOURCES } from '../../tools/idp-group-grants.js';

type Body = Record<string, unknown>;

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : []);
const bool = (v: unknown) => (v === 'on' ? true : v === 'off' ? false : undefined);
const words = (v: unknown) => (str(v) ?? '').split(/[\s,]+/).filter(Boolean);

/** `map_FIELD` text fields (names separated by commas or spaces) → the connection's attribute mapping. */
export function mapping(b: Body) {
  const out: Record<string, string[]> = {};
  for (const field of ['email', 'groups', 'displayName', 'givenName', 'familyName']) {
    const names = words(b[`map_${field}`]);
    if (names.length) out[field] = names;
  }
  return out;
}

/** The group picker's values: local group ids, and IdP groups as `okta:{id}` / `google:{id}` (group-picker.ts idpGroupRef). */
function pickedGroups(b: Body) {
  const refs = list(b.group);
  const idp = refs.filter((r) => r.includes(':'));
  if (idp.some((r) => !IDP_GROUP_SOURCES.some((source) => r.startsWith(`${source}:`)))) throw badRequest('Unknown group source.');
  return { groups: refs.filter((r) => !r.includes(':')), idpGroups: idp };
}

const commonIdp = (b: Body) => ({ name: str(b.name), allowedDomains: words(b.allowedDomains), jitEnabled: bool(b.jitEnabled) ?? true, matchBy: str(b.matchBy), mapping: mapping(b) });

export const formInputs: Record<string, (b: Body) => unknown> = {
  'scim-token-create': (b) => ({ label: str(b.label), connectionId: str(b.connectionId) }),
  'scim-token-revoke': (b) => ({ id: str(b.id) }),
  // "Everyone" ignores ticked groups; "only these groups" with none ticked is refused rather than read as everyone.
  'tool-approve': (b) => {
    if (b.scope === 'groups' && list(b.group).length === 0) throw badRequest('Choose at least one group, or "Everyone".');
    return { tool: str(b.tool), ...(b.scope === 'groups' ? pickedGroups(b) : { groups: [], idpGroups: [] }) };
  },
  'tool-revoke': (b) => ({ tool: str(b.tool), ...pickedGroups(b) }),
  'tool-change-accept': (b) => ({ tool: str(b.tool) }),
  'tool-change-reject': (b) => ({ tool: str(b.tool) }),
  'upstream-add': (b) => ({ name: str(b.name), url: str(b.url), headers: (str(b.headers) ?? '').split(/\r?\n/).filter((l) => l.trim()) }),
  'upstream-refresh': (b) => ({ name: str(b.name) }),
  'settings-update': (b) => Object.fromEntries(['adminGroup', 'dynamicClientRegistration', 'reconsentOnNewTools', 'crossAppAccess', 'idpLogoutRevokesGrants', 'provisioning'].filter((k) => typeof b[k] === 'string').map((k) => [k, b[k]])),
  'reconcile-run': (b) => ({ confirm: b.confirm === 'on' }),
  'user-client-revoke': (b) => ({ userId: str(b.userId), clientId: str(b.clientId) }),
  'client-remove': (b) => ({ clientId: str(b.clientId) }),
  'user-revoke-all': (b) => ({ userId: str(b.userId) }),
  'idp-add-saml': (b) => ({ ...commonIdp(b), metadataUrl: str(b.metadataUrl), metadataXml: str(b.metadataXml) }),
  'idp-add-oidc': (b) => ({ ...commonIdp(b), issuer: str(b.issuer), clientId: str(b.clientId), clientSecret: str(b.clientSecret), clientAuth: str(b.clientAuth) }),
  // The mapping form of a connection's test page sends every `map_` field: empty ones fall back to the defaults.
  'idp-update': (b) => ({ id: str(b.id), enabled: bool(b.enabled), jitEnabled: bool(b.jitEnabled), idpInitiated: bool(b.idpInitiated), ...(Object.keys(b).some((k) => k.startsWith('map_')) && { mapping: mapping(b) }) }),
};

/** What the console says after a successful action (fixed texts: nothing from the request is reflected). */
export const doneMessages: Record<string, string> = {
  'scim-token-revoke': 'SCIM token revoked. Provisioning with it stops now.',
  'tool-approve': 'Tool access saved. It applies from the next request.',
  'tool-revoke': 'Tool revoked. Nobody can call it from the next request on.',
  'tool-change-accept': 'Change accepted. The tool is callable again with the access it had.',
  'tool-change-reject': 'Tool kept revoked. Nobody can call it until you approve it again.',
  'upstream-add': 'Upstream server added. Its tools arrive unapproved.',
  'upstream-refresh': 'Upstream tools refreshed.',
  'settings-update': 'Settings saved.',
  'reconcile-run': 'Reconciliation finished. Its result is shown below.',
  'user-client-revoke': "The client's access for this user has ended.",
  'client-remove': 'Client removed. Every token it held has ended.',
  'user-revoke-all': "Everything for this user has been revoked.",
  'idp-add-saml': 'SAML identity provider added. Try "Test sign-in".',
  'idp-add-oidc': 'OIDC identity provider added. Try "Test sign-in".',
  'idp-update': 'Connection updated.',
};
