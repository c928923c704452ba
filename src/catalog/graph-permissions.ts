/**
 * Microsoft Graph delegated permissions (oauth2PermissionScopes of the Graph service principal
 * 00000003-0000-0000-c000-000000000000) the Entra app registration requests. The Microsoft connector is built in
 * parallel (src/connectors/microsoft): until it exports its own per-tool table, this one names what each planned
 * `microsoft__…` tool needs, and the lead reconciles the two when merging. Re-check the ids against a live tenant with
 * `GET /servicePrincipals(appId='00000003-0000-0000-c000-000000000000')?$select=oauth2PermissionScopes`.
 */
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

export const GRAPH_DELEGATED_IDS = {
  openid: '37f7f235-527c-4136-accd-4a02d197296e',
  profile: '14dad69e-099b-42c9-810b-d002981feec1',
  email: '64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0',
  offline_access: '7427e0e9-2fba-42fe-b0c0-848c9e6a8182',
  'User.Read': 'e1fe6dd8-ba31-4d61-89e7-88639da4683d',
  'User.ReadBasic.All': 'b340eb25-3456-403f-be2f-af7a0d370277',
  'Mail.Read': '570282fd-fa5c-430d-a7fd-fc8dc98a9dca',
  'Mail.ReadWrite': '024d486e-b451-40bb-833d-3e66d98c5c73',
  'Mail.Send': 'e383f46e-2787-4529-855e-0e479a3ffac0',
  'Calendars.Read': '465a38f9-76ea-45b9-9f34-9e8b0d4b0b42',
  'Calendars.ReadWrite': '1ec239c2-d7c9-4623-a91a-a9775856bb36',
  'Files.Read.All': 'df85f4d6-205c-4ac5-a5ea-6bf408dba283',
  'Sites.Read.All': '205e70e5-aba6-4c52-a976-6d2d46c48043',
} as const;

export type GraphPermission = keyof typeof GRAPH_DELEGATED_IDS;

/** Sign-in itself (OIDC) and OBO refresh: requested whatever tools exist. */
export const SIGN_IN_PERMISSIONS: GraphPermission[] = ['openid', 'profile', 'email', 'offline_access', 'User.Read'];

/** Per planned Microsoft tool, least privilege; the justification text goes to the gallery submission. */
export const MICROSOFT_TOOL_PERMISSIONS: Record<string, { permissions: GraphPermission[]; why: string }> = {
  microsoft__mail_search: { permissions: ['Mail.Read'], why: 'search the signed-in user’s mailbox' },
  microsoft__mail_read: { permissions: ['Mail.Read'], why: 'read a message the user asked about' },
  microsoft__mail_create_draft: { permissions: ['Mail.ReadWrite'], why: 'create a reply or new draft in the user’s mailbox' },
  microsoft__mail_send_draft: { permissions: ['Mail.Send'], why: 'send a draft the user approved' },
  microsoft__calendar_list_events: { permissions: ['Calendars.Read'], why: 'list the user’s events' },
  microsoft__calendar_create_event: { permissions: ['Calendars.ReadWrite'], why: 'create or change an event for the user' },
  microsoft__files_search: { permissions: ['Files.Read.All'], why: 'search OneDrive/SharePoint files the user can open' },
  microsoft__files_read: { permissions: ['Files.Read.All'], why: 'read a file the user can open' },
  microsoft__sites_search: { permissions: ['Sites.Read.All'], why: 'find SharePoint sites the user can read' },
  microsoft__people_lookup: { permissions: ['User.ReadBasic.All'], why: 'look up colleagues’ basic profiles' },
};

const justification: Partial<Record<GraphPermission, string>> = {
  openid: 'sign the user in (OpenID Connect)',
  profile: 'the user’s name for the account page',
  email: 'the user’s e-mail to link the SCIM-provisioned account',
  offline_access: 'keep on-behalf-of Graph tokens fresh while the user’s assistant works',
  'User.Read': 'read the signed-in user’s profile',
};

/** Every delegated permission, sorted, with the reasons that need it (sign-in and each tool). */
export function graphDelegatedPermissions(): { name: GraphPermission; id: string; justification: string[] }[] {
  const reasons = new Map<GraphPermission, string[]>();
  for (const p of SIGN_IN_PERMISSIONS) reasons.set(p, [justification[p]!]);
  for (const [tool, { permissions, why }] of Object.entries(MICROSOFT_TOOL_PERMISSIONS)) {
    for (const p of permissions) reasons.set(p, [...(reasons.get(p) ?? []), `${tool}: ${why}`]);
  }
  return [...reasons.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, j]) => ({ name, id: GRAPH_DELEGATED_IDS[name], justification: j }));
}
