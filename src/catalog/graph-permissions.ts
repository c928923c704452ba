import {
  ENTRA_SIGN_IN_SCOPES,
  GRAPH_DELEGATED_PERMISSION_IDS,
  GROUPS_OVERAGE_SCOPES,
  MICROSOFT_TOOL_SCOPES,
  type GraphDelegatedPermission,
} from '../connectors/microsoft/microsoft-scopes.js';
import { microsoftToolProvider } from '../connectors/microsoft/microsoft-tools.js';

/**
 * The delegated Graph permissions of the Entra app registration, derived from the Microsoft connector's one table
 * (src/connectors/microsoft/microsoft-scopes.ts): sign-in, every tool's permissions and the groups-overage lookup.
 * Nothing is listed here by hand, so a tool added to the connector is in the next `manifests build`.
 */
const signInReason: Record<(typeof ENTRA_SIGN_IN_SCOPES)[number], string> = {
  openid: 'sign the user in (OpenID Connect)',
  profile: 'the user’s name for the account page',
  email: 'the user’s e-mail to link the SCIM-provisioned account',
  offline_access: 'keep on-behalf-of Graph tokens fresh while the user’s assistant works',
  'User.Read': 'read the signed-in user’s profile',
};

/** A tool's reason, for the reviewer: its name and the first sentence of its own description. */
function toolReason(tool: string): string {
  const description = microsoftToolProvider.tools.find((t) => t.name === tool)?.description ?? '';
  const first = /^(.*?[^.]\.)(?=\s+[A-Z]|$)/.exec(description)?.[1] ?? description;
  return first ? `${tool}: ${first}` : tool;
}

/** Every delegated permission, sorted by name, with its id and the reasons (sign-in, tools) that need it. */
export function graphDelegatedPermissions(): { name: GraphDelegatedPermission; id: string; justification: string[] }[] {
  const reasons = new Map<GraphDelegatedPermission, string[]>();
  const add = (p: GraphDelegatedPermission, why: string) => reasons.set(p, [...(reasons.get(p) ?? []), why]);
  for (const p of ENTRA_SIGN_IN_SCOPES) add(p, signInReason[p]);
  for (const p of GROUPS_OVERAGE_SCOPES) add(p, 'sign-in: read the user’s groups when the ID token reports a groups overage');
  for (const [tool, permissions] of Object.entries(MICROSOFT_TOOL_SCOPES)) for (const p of permissions) add(p, toolReason(tool));
  return [...reasons.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, why]) => ({ name, id: GRAPH_DELEGATED_PERMISSION_IDS[name], justification: why }));
}
