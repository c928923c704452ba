import type { ResourceKind } from './resource-kinds.js';
import { scimBadRequest } from './scim-error.js';

/** An attribute held in an indexed column of "User"/"Group" (see prisma/schema.prisma). */
export interface Column {
  name: string;
  type: 'text' | 'boolean' | 'timestamp';
  caseExact: boolean;
  /** The column holds lower(value) (userNameKey, displayNameKey): compare with a lower-cased value, use the index. */
  lowered?: boolean;
}

const invalid = (detail: string) => scimBadRequest('invalidFilter', detail);

export const membershipAttr = (kind: ResourceKind, name: string) =>
  (kind.name === 'User' && name === 'groups') || (kind.name === 'Group' && name === 'members');

/** Attributes held in indexed columns (see prisma/schema.prisma): filters on them never read the JSON. */
export function columnOf(kind: ResourceKind, name: string, sub: string | null): Column | null {
  if (name === 'meta') {
    if (sub === 'created') return { name: 'createdAt', type: 'timestamp', caseExact: true };
    if (sub === 'lastModified') return { name: 'updatedAt', type: 'timestamp', caseExact: true };
    throw invalid(`meta${sub ? `.${sub}` : ''} cannot be filtered`);
  }
  if (sub !== null) return null;
  if (name === 'id') return { name: 'id', type: 'text', caseExact: true };
  if (name === 'externalId') return { name: 'externalId', type: 'text', caseExact: true };
  if (kind.name === 'User') {
    if (name === 'userName') return { name: 'userNameKey', type: 'text', caseExact: false, lowered: true };
    if (name === 'active') return { name: 'active', type: 'boolean', caseExact: true };
    if (name === 'displayName') return { name: 'displayName', type: 'text', caseExact: false };
  } else if (name === 'displayName') return { name: 'displayNameKey', type: 'text', caseExact: false, lowered: true };
  return null;
}
