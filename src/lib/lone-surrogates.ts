type WellFormed = { isWellFormed(): boolean; toWellFormed(): string };

/**
 * JSON text can carry a lone UTF-16 surrogate only as a `\uD800`–`\uDFFF` escape (UTF-8 bytes cannot encode one):
 * without such an escape there is nothing to look for. A cheap test on the raw text before any walk.
 */
export const mayHaveLoneSurrogate = (text: string): boolean => text.includes('\\ud') || text.includes('\\uD');

/**
 * Whether a parsed JSON value has a lone surrogate in a string or a key. PostgreSQL refuses them in text and jsonb
 * (the whole statement fails), and they are no Unicode text anyway: a body carrying one is refused as malformed.
 */
export function hasLoneSurrogate(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return !(value as unknown as WellFormed).isWellFormed();
  if (value === null || typeof value !== 'object' || depth > 256) return false;
  if (Array.isArray(value)) return value.some((v) => hasLoneSurrogate(v, depth + 1));
  for (const k of Object.keys(value)) {
    if (!(k as unknown as WellFormed).isWellFormed() || hasLoneSurrogate((value as Record<string, unknown>)[k], depth + 1)) return true;
  }
  return false;
}

/**
 * A string PostgreSQL stores: without NUL (text and jsonb refuse it) and without a lone UTF-16 surrogate (jsonb
 * refuses its `\ud800` escape; a client can send one, and cutting a string can split a pair). Either would make a
 * whole audit batch fail. Lone surrogates become U+FFFD; well-formed strings come back as they are.
 */
export function storableText(v: string): string {
  const s = v.includes('\0') ? v.replace(/\0/g, '') : v;
  const w = s as unknown as WellFormed;
  return w.isWellFormed() ? s : w.toWellFormed();
}
