import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { ConnectorRow } from '../connector-store.js';
import type { DirectoryGroup, DirectorySource, DirectoryUser } from '../directory-source.js';
import { GoogleSession } from './google-call.js';
import { googleConfig } from './google-config.js';
import { DIRECTORY_SYNC_SCOPES } from './google-scopes.js';
import { readConditionalPages, type CachedPage, type PageAnswer, type PageStats } from './read-conditional-pages.js';

/** Most pages the adapter follows per listing: a runaway `nextPageToken` loop must end (500 × 500 = 250,000 users). */
const MAX_PAGES = 500;

/** What a run read, page by page with ETags: the next run sends them as If-None-Match (docs/decisions/0018). */
export interface GoogleDirectorySnapshot {
  users: CachedPage<DirectoryUser>[];
  groups: CachedPage<DirectoryGroup>[];
  /** By group id. */
  members: Record<string, CachedPage<string>[]>;
}

export type GoogleDirectorySource = DirectorySource & { readonly stats: PageStats; snapshot(): GoogleDirectorySnapshot };

/** A googleapis response as a page: 304 (googleapis accepts it as a success) or the body with its ETag. */
function answer<R extends { etag?: string | null; nextPageToken?: string | null }, T>(res: { status: number; data: R; headers?: unknown }, items: (data: R) => T[]): PageAnswer<T> {
  if (res.status === 304) return { notModified: true };
  const h = res.headers as { get?: (n: string) => string | null } | undefined;
  const etag = res.data.etag ?? (typeof h?.get === 'function' ? h.get('etag') : null) ?? null;
  return { notModified: false, etag, items: items(res.data), next: res.data.nextPageToken ?? null };
}

/**
 * The Admin SDK Directory API as a DirectorySource, read as the connector's admin (`--admin-email`) with the
 * read-only directory scopes. Suspended and archived users are reported inactive. Every page must succeed: a failure
 * throws, so a sync never acts on a partial listing. With `previous` (the last good run's pages), each page is asked
 * for with its ETag (If-None-Match) and a 304 reuses the previous page, so the listing is still complete.
 */
export function googleDirectorySource(s: Services, t: TenantCtx, connector: ConnectorRow, signal: AbortSignal, previous?: GoogleDirectorySnapshot): GoogleDirectorySource {
  const config = googleConfig(connector);
  const session = new GoogleSession({ s, t, connector, userId: 'directory-sync', clientId: 'directory-sync', signal }, config.adminEmail, DIRECTORY_SYNC_SCOPES);
  const api = async () => (await session.googleapis()).admin({ version: 'directory_v1', ...(await session.options()) });
  const next: GoogleDirectorySnapshot = { users: [], groups: [], members: {} };
  const stats: PageStats = { requests: 0, notModified: 0 };
  // RFC 9110 §13.1.2: If-None-Match with the ETag Google gave the page; Google answers 304 when it is unchanged.
  const conditional = (o: { signal: AbortSignal }, etag: string | undefined) => (etag ? { ...o, headers: { 'If-None-Match': etag } } : o);

  return {
    kind: 'google',
    stats,
    snapshot: () => next,
    unchanged: () => stats.requests > 0 && stats.notModified === stats.requests,
    async *listUsers(): AsyncIterable<DirectoryUser> {
      const dir = await api();
      yield* readConditionalPages('admin.directory.users.list', MAX_PAGES, previous?.users, next.users, stats, async (pageToken, etag) => {
        const res = await session.api('admin.directory.users.list', async (o) => ({ data: await dir.users.list({ customer: config.customerId, maxResults: 500, projection: 'full', orderBy: 'email', ...(pageToken && { pageToken }) }, conditional(o, etag)) }));
        return answer(res, (data) =>
          (data.users ?? [])
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
                status: u.suspended === true ? 'suspended' : u.archived === true ? 'archived' : 'active',
              };
            }),
        );
      });
    },
    async *listGroups(): AsyncIterable<DirectoryGroup> {
      const dir = await api();
      yield* readConditionalPages('admin.directory.groups.list', MAX_PAGES, previous?.groups, next.groups, stats, async (pageToken, etag) => {
        const res = await session.api('admin.directory.groups.list', async (o) => ({ data: await dir.groups.list({ customer: config.customerId, maxResults: 200, ...(pageToken && { pageToken }) }, conditional(o, etag)) }));
        return answer(res, (data) => (data.groups ?? []).filter((g) => g.id).map((g) => ({ externalId: g.id!, displayName: g.name || g.email || g.id!, email: g.email ?? null })));
      });
    },
    async *listMembers(groupExternalId: string): AsyncIterable<string> {
      const dir = await api();
      const pages = (next.members[groupExternalId] = []);
      yield* readConditionalPages('admin.directory.members.list', MAX_PAGES, previous?.members[groupExternalId], pages, stats, async (pageToken, etag) => {
        const res = await session.api('admin.directory.members.list', async (o) => ({ data: await dir.members.list({ groupKey: groupExternalId, maxResults: 200, ...(pageToken && { pageToken }) }, conditional(o, etag)) }));
        return answer(res, (data) => (data.members ?? []).filter((m) => m.type === 'USER' && m.id).map((m) => m.id!));
      });
    },
  };
}
