/**
 * The one table of Google OAuth scopes per tool (and for directory sync): the DWD screen list printed by
 * `connector add-google`, `connector test`, the token requests, docs/connectors/google.md and the catalog generator
 * (Google Workspace Marketplace listing) all read it. Least privilege: each tool asks only for what its API methods
 * accept, so an admin who authorises a subset still gets the tools that subset covers.
 */
const G = 'https://www.googleapis.com/auth/';

export const GOOGLE_TOOL_SCOPES = {
  google__gmail_search: [`${G}gmail.readonly`],
  google__gmail_read: [`${G}gmail.readonly`],
  // Replies read the original's Message-ID (messages.get does not accept gmail.compose).
  google__gmail_create_draft: [`${G}gmail.compose`, `${G}gmail.readonly`],
  google__gmail_send_draft: [`${G}gmail.compose`],
  google__gmail_list_labels: [`${G}gmail.labels`],
  google__calendar_list_calendars: [`${G}calendar.readonly`],
  google__calendar_list_events: [`${G}calendar.readonly`],
  google__calendar_get_event: [`${G}calendar.readonly`],
  google__calendar_create_event: [`${G}calendar.events`],
  google__calendar_update_event: [`${G}calendar.events`],
  google__calendar_delete_event: [`${G}calendar.events`],
  google__calendar_free_busy: [`${G}calendar.freebusy`],
  google__drive_search: [`${G}drive.readonly`],
  google__drive_read_file: [`${G}drive.readonly`],
  google__drive_get_metadata: [`${G}drive.readonly`],
  google__drive_recent_files: [`${G}drive.readonly`],
  google__directory_lookup: [`${G}admin.directory.user.readonly`],
} as const satisfies Record<string, readonly string[]>;

export type GoogleToolName = keyof typeof GOOGLE_TOOL_SCOPES;

/** Directory sync reads users, groups and members as the admin (`--admin-email`). */
export const DIRECTORY_SYNC_SCOPES = [`${G}admin.directory.user.readonly`, `${G}admin.directory.group.readonly`, `${G}admin.directory.group.member.readonly`] as const;

/**
 * Asked as the admin when a key is added, only to prove the key signs and the service account exists: Google answers
 * `unauthorized_client` for a valid key whose delegation is not granted yet (the admin does that after seeing the
 * scope list), and `invalid_grant`/`invalid_client` for a bad key or account.
 */
export const KEY_CHECK_SCOPE = `${G}userinfo.email`;

/** The union of the tools' scopes, sorted, without duplicates: what the DWD screen needs for the tools. */
export function toolGoogleScopes(): string[] {
  return [...new Set(Object.values(GOOGLE_TOOL_SCOPES).flat())].sort();
}

/** What directory sync and the Google group picker need beyond the tools' scopes (read as `--admin-email`). */
export function directorySyncExtraScopes(): string[] {
  const tools = new Set<string>(toolGoogleScopes());
  return DIRECTORY_SYNC_SCOPES.filter((x) => !tools.has(x)).sort();
}

/** Every scope the connector can use: the tools' plus directory sync's (what `connector test` checks, the Marketplace listing). */
export function allGoogleScopes(): string[] {
  return [...new Set([...Object.values(GOOGLE_TOOL_SCOPES).flat(), ...DIRECTORY_SYNC_SCOPES])].sort();
}
