import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { ConnectorRow } from '../connector-store.js';
import type { DirectoryGroup, DirectorySource, DirectoryUser } from '../directory-source.js';
import { GoogleSession } from './google-call.js';
import { googleConfig } from './google-config.js';
import { DIRECTORY_SYNC_SCOPES } from './google-scopes.js';

/** Most pages the adapter follows per listing: a runaway `nextPageToken` loop must end (500 × 500 = 250,000 users). */
const MAX_PAGES = 500;

/**
 * The Admin SDK Directory API as a DirectorySource, read as the connector's admin (`--admin-email`) with the
 * read-only directory scopes. Suspended and archived users are reported inactive. Every page must succeed: a failure
 * throws, so a sync never acts on a partial listing.
 */
export function googleDirectorySource(s: Services, t: TenantCtx, connector: ConnectorRow, signal: AbortSignal): DirectorySource {
  const config = googleConfig(connector);
  const session = new GoogleSession({ s, t, connector, userId: 'directory-sync', clientId: 'directory-sync', signal }, config.adminEmail, DIRECTORY_SYNC_SCOPES);
  const api = async () => (await session.googleapis()).admin({ version: 'directory_v1', ...(await session.options()) });

  async function* pages<T>(label: string, fetchPage: (pageToken: string | undefined) => Promise<{ items: T[]; next: string | null | undefined }>) {
    let token: string | undefined;
    for (let i = 0; i < MAX_PAGES; i++) {
      const { items, next } = await fetchPage(token);
      yield* items;
      if (!next) return;
      token = next;
    }
    throw new Error(`${label}: more than ${MAX_PAGES} pages`);
  }

  return {
    kind: 'google',
    async *listUsers(): AsyncIterable<DirectoryUser> {
      const dir = await api();
      yield* pages('admin.directory.users.list', async (pageToken) => {
        const data = await session.api('admin.directory.users.list', (o) => dir.users.list({ customer: config.customerId, maxResults: 500, projection: 'full', orderBy: 'email', ...(pageToken && { pageToken }) }, o));
        const items = (data.users ?? [])
          .filter((u) => u.id && u.primaryEmail)
          .map((u) => {
            const org = (u.organizations as { title?: string; primary?: boolean }[] | undefined)?.find((x) => x.primary) ?? (u.organizations as { title?: string }[] | undefined)?.[0];
            return {
              externalId: u.id!,
              email: u.primaryEmail!.toLowerCase(),
              displayName: u.name?.fullName ?? null,
              givenName: u.name?.givenName ?? null,
              familyName: u.name?.familyName ?? null,
              title: org?.title ?? null,
              active: u.suspended !== true && u.archived !== true,
            };
          });
        return { items, next: data.nextPageToken };
      });
    },
    async *listGroups(): AsyncIterable<DirectoryGroup> {
      const dir = await api();
      yield* pages('admin.directory.groups.list', async (pageToken) => {
        const data = await session.api('admin.directory.groups.list', (o) => dir.groups.list({ customer: config.customerId, maxResults: 200, ...(pageToken && { pageToken }) }, o));
        return { items: (data.groups ?? []).filter((g) => g.id).map((g) => ({ externalId: g.id!, displayName: g.name || g.email || g.id!, email: g.email ?? null })), next: data.nextPageToken };
      });
    },
    async *listMembers(groupExternalId: string): AsyncIterable<string> {
      const dir = await api();
      yield* pages('admin.directory.members.list', async (pageToken) => {
        const data = await session.api('admin.directory.members.list', (o) => dir.members.list({ groupKey: groupExternalId, maxResults: 200, ...(pageToken && { pageToken }) }, o));
        return { items: (data.members ?? []).filter((m) => m.type === 'USER' && m.id).map((m) => m.id!), next: data.nextPageToken };
      });
    },
  };
}
