import type { DirectoryGroup, DirectorySource, DirectoryUser } from '../directory-source.js';

/** Everything a directory listed in one read: users, groups, and each group's direct user members (external ids). */
export interface DirectoryListing {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
  members: Map<string, string[]>;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/**
 * Reads the whole directory BEFORE anything is compared or written (directory sync and reconciliation both): an
 * adapter throws on any failed page, so an outage part-way leaves the tenant exactly as it was, and a partial
 * listing can never look like "these people left".
 */
export async function readDirectory(source: DirectorySource): Promise<DirectoryListing> {
  const users = await collect(source.listUsers());
  const groups = await collect(source.listGroups());
  const members = new Map<string, string[]>();
  for (const g of groups) members.set(g.externalId, await collect(source.listMembers(g.externalId)));
  return { users, groups, members };
}
