/** JSON Schema fragments shared by the Google tools (inputs are validated against them before a tool runs). */
export const str = (description: string, extra: Record<string, unknown> = {}) => ({ type: 'string', description, ...extra });
export const id = (description: string) => ({ type: 'string', description, minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_@.:-]+$' });
export const int = (description: string, minimum: number, maximum: number, dflt?: number) => ({ type: 'integer', description, minimum, maximum, ...(dflt !== undefined && { default: dflt }) });
export const emails = (description: string, maxItems = 50) => ({ type: 'array', description, items: { type: 'string', format: 'email', maxLength: 254 }, maxItems });
export const pageToken = { type: 'string', description: 'nextPageToken of a previous call, to get the next page', maxLength: 2048 };
export const nullableStr = { type: ['string', 'null'] };

export const object = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object' as const,
  properties,
  required,
  additionalProperties: false,
});

/** Hints of a tool that only reads. */
export const readOnly = (title: string) => ({ title, readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true });
