/** JSON Schema fragments of the Microsoft tools (inputs are validated against them before a tool runs). */
export { emails, int, nullableStr, object, readOnly, str } from '../google/schema-parts.js';

/**
 * A Graph id (message, event, drive item, chat "19:…@thread.v2", drive "b!…"). Never only dots: ids are placed in
 * URL paths (encoded), and `..` would climb out of the resource the tool names.
 */
export const gid = (description: string) => ({ type: 'string', description, minLength: 1, maxLength: 512, pattern: '^(?!\\.+$)[A-Za-z0-9_=+/.:!@-]+$' });

/** `nextLink` of a previous call (an absolute Graph URL, checked to be this tenant's Graph before it is followed). */
export const nextLink = { type: 'string', description: 'nextLink of a previous call, to get the next page', maxLength: 4096, pattern: '^https://' };

/** A date-time in ISO 8601 (UTC when no offset is given). */
export const isoDateTime = (description: string) => ({ type: 'string', description, format: 'date-time', maxLength: 40 });

/**
 * A date-time that may omit the offset: Graph's `dateTimeTimeZone` takes a local time plus a zone name, so an event's
 * start "2026-12-07T10:00:00" with timeZone "Europe/Paris" is valid (JSON Schema's `date-time` format demands an offset
 * and would refuse every local time). With Z or an offset, the tool converts it to UTC.
 */
export const localDateTime = (description: string) => ({
  type: 'string',
  description,
  maxLength: 40,
  pattern: '^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])T([01]\\d|2[0-3]):[0-5]\\d(:[0-5]\\d(\\.\\d{1,7})?)?(Z|[+-]([01]\\d|2[0-3]):[0-5]\\d)?$',
});

/** Path segment of a Graph URL. */
export const seg = (id: unknown) => encodeURIComponent(String(id));

/** Graph's recipient list from e-mail addresses. */
export const recipients = (v: unknown) => (Array.isArray(v) ? v.map((address) => ({ emailAddress: { address: String(address) } })) : []);

/** Graph's `{ emailAddress: { name, address } }` as "Name <address>". */
export function formatAddress(r: unknown): string | null {
  const e = (r as { emailAddress?: { name?: string; address?: string } } | undefined)?.emailAddress;
  if (!e) return null;
  return e.name && e.address ? `${e.name} <${e.address}>` : (e.address ?? e.name ?? null);
}

/** KQL `$search` value: one double-quoted string, inner quotes and backslashes escaped (Graph `$search` syntax). */
export const kql = (q: unknown) => `"${String(q).replace(/[\\"]/g, (c) => `\\${c}`)}"`;
