import { ScimError } from './scim-error.js';

/** meta.version and the ETag header (RFC 7644 §3.14): a weak tag over the row's version counter. */
export const etagOf = (version: number) => `W/"${version}"`;

/** A write with If-Match must name the current version, else 412 Precondition Failed. `*` matches any. */
export function checkIfMatch(ifMatch: string | undefined, version: number): void {
  if (!ifMatch || ifMatch.trim() === '*') return;
  const tags = ifMatch.split(',').map((x) => x.trim());
  if (!tags.includes(etagOf(version)) && !tags.includes(`"${version}"`)) {
    throw new ScimError(412, 'The resource has changed (If-Match does not match meta.version)');
  }
}
