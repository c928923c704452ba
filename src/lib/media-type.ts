/** The `type/subtype` of a Content-Type header, lower-cased, parameters dropped (never a substring match). */
export const mediaType = (value: string | string[] | undefined): string | undefined =>
  // The two values MCP peers send on every message are their own answer: no split, trim and lower-casing copies.
  value === 'application/json' || value === 'text/event-stream' ? value : (Array.isArray(value) ? value[0] : value)?.split(';')[0]?.trim().toLowerCase();
