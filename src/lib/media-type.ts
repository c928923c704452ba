/** The `type/subtype` of a Content-Type header, lower-cased, parameters dropped (never a substring match). */
export const mediaType = (value: string | string[] | undefined): string | undefined =>
  (Array.isArray(value) ? value[0] : value)?.split(';')[0]?.trim().toLowerCase();
