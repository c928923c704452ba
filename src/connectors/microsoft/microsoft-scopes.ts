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

/**
 * Graph scopes as a token request names them: fully qualified with the cloud's Graph resource, so a US Government or
 * 21Vianet tenant is never issued a token for the global Graph (a bare `Mail.Read` means graph.microsoft.com).
 */
export const graphScopes = (graphEndpoint: string, permissions: readonly string[]) => permissions.map((p) => `${graphEndpoint}/${p}`);
