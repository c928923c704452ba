/**
 * The one table of Microsoft Graph delegated permissions per tool: OBO token requests, `connector test`, the admin
 * consent URL printed by `connector add-microsoft` and docs/connectors/microsoft.md read it. Least privilege per tool,
 * so an admin who consents to a subset still gets the tools that subset covers.
 */
export const MICROSOFT_TOOL_SCOPES = {
  microsoft__mail_search: ['Mail.Read'],
  microsoft__mail_read: ['Mail.Read'],
  microsoft__mail_create_draft: ['Mail.ReadWrite'],
  microsoft__mail_send_draft: ['Mail.Send'],
  microsoft__calendar_list_events: ['Calendars.Read'],
  microsoft__calendar_create_event: ['Calendars.ReadWrite'],
  microsoft__calendar_update_event: ['Calendars.ReadWrite'],
  microsoft__calendar_cancel_event: ['Calendars.ReadWrite'],
  microsoft__calendar_find_meeting_times: ['Calendars.Read.Shared'],
  microsoft__files_search: ['Files.Read.All', 'Sites.Read.All'],
  microsoft__files_read: ['Files.Read.All'],
  microsoft__files_recent: ['Files.Read'],
  microsoft__people_lookup: ['User.Read.All'],
  microsoft__teams_list_chats: ['Chat.ReadBasic'],
  microsoft__teams_list_channels: ['Team.ReadBasic.All', 'Channel.ReadBasic.All'],
  microsoft__teams_read_messages: ['Chat.Read', 'ChannelMessage.Read.All'],
  microsoft__teams_post_message: ['ChatMessage.Send', 'ChannelMessage.Send'],
} as const satisfies Record<string, readonly string[]>;

export type MicrosoftToolName = keyof typeof MICROSOFT_TOOL_SCOPES;

/** Read at sign-in when the ID token reports a groups overage (`/me/transitiveMemberOf`). */
export const GROUPS_OVERAGE_SCOPES = ['GroupMember.Read.All'] as const;

/** Every delegated Graph permission the app registration needs (tools + overage), sorted, without duplicates. */
export function allGraphPermissions(): string[] {
  return [...new Set([...Object.values(MICROSOFT_TOOL_SCOPES).flat(), ...GROUPS_OVERAGE_SCOPES])].sort();
}

/** Requested by every Entra sign-in of the app (OIDC) and for the refresh token OBO keeps fresh. */
export const ENTRA_SIGN_IN_SCOPES = ['openid', 'profile', 'email', 'offline_access', 'User.Read'] as const;

/** The Microsoft Graph service principal (the resource of every permission below). */
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

export type GraphDelegatedPermission =
  | (typeof MICROSOFT_TOOL_SCOPES)[MicrosoftToolName][number]
  | (typeof GROUPS_OVERAGE_SCOPES)[number]
  | (typeof ENTRA_SIGN_IN_SCOPES)[number];

/**
 * The delegated-permission id (`oauth2PermissionScopes[].id` of the Graph service principal, the same in every
 * tenant) of each permission above, for `requiredResourceAccess` of the app registration (manifests build). Typed as a
 * complete map: a permission added to a tool without its id here does not compile. Each id was checked against
 * Microsoft's "Microsoft Graph permissions reference" (microsoftgraph/microsoft-graph-docs-contrib,
 * concepts/permissions-reference.md, generated from the service principal, ms.date 03/31/2026), column "Delegated",
 * row "Identifier". Re-check live with
 * `GET /servicePrincipals(appId='00000003-0000-0000-c000-000000000000')?$select=oauth2PermissionScopes`.
 */
export const GRAPH_DELEGATED_PERMISSION_IDS: Record<GraphDelegatedPermission, string> = {
  'Calendars.Read': '465a38f9-76ea-45b9-9f34-9e8b0d4b0b42',
  'Calendars.Read.Shared': '2b9c4092-424d-4249-948d-b43879977640',
  'Calendars.ReadWrite': '1ec239c2-d7c9-4623-a91a-a9775856bb36',
  'Channel.ReadBasic.All': '9d8982ae-4365-4f57-95e9-d6032a4c0b87',
  'ChannelMessage.Read.All': '767156cb-16ae-4d10-8f8b-41b657c8c8c8',
  'ChannelMessage.Send': 'ebf0f66e-9fb1-49e4-a278-222f76911cf4',
  'Chat.Read': 'f501c180-9344-439a-bca0-6cbf209fd270',
  'Chat.ReadBasic': '9547fcb5-d03f-419d-9948-5928bbf71b0f',
  'ChatMessage.Send': '116b7235-7cc6-461e-b163-8e55691d839e',
  email: '64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0',
  'Files.Read': '10465720-29dd-4523-a11a-6a75c743c9d9',
  'Files.Read.All': 'df85f4d6-205c-4ac5-a5ea-6bf408dba283',
  'GroupMember.Read.All': 'bc024368-1153-4739-b217-4326f2e966d0',
  'Mail.Read': '570282fd-fa5c-430d-a7fd-fc8dc98a9dca',
  'Mail.ReadWrite': '024d486e-b451-40bb-833d-3e66d98c5c73',
  'Mail.Send': 'e383f46e-2787-4529-855e-0e479a3ffac0',
  offline_access: '7427e0e9-2fba-42fe-b0c0-848c9e6a8182',
  openid: '37f7f235-527c-4136-accd-4a02d197296e',
  profile: '14dad69e-099b-42c9-810b-d002981feec1',
  'Sites.Read.All': '205e70e5-aba6-4c52-a976-6d2d46c48043',
  'Team.ReadBasic.All': '485be79e-c497-4b35-9400-0e3fa7f2a5d4',
  'User.Read': 'e1fe6dd8-ba31-4d61-89e7-88639da4683d',
  'User.Read.All': 'a154be20-db9c-4678-8ab7-66f6cc099a59',
};

/**
 * Graph scopes as a token request names them: fully qualified with the cloud's Graph resource, so a US Government or
 * 21Vianet tenant is never issued a token for the global Graph (a bare `Mail.Read` means graph.microsoft.com).
 */
export const graphScopes = (graphEndpoint: string, permissions: readonly string[]) => permissions.map((p) => `${graphEndpoint}/${p}`);
