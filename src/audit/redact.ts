const secretKey = /pass(word)?|secret|token|authorization|cookie|private|assertion|credential|api[-_]?key|^code$/i;
const MAX_STRING = 512;
const MAX_DEPTH = 4;

/**
 * Audit details must be small and never carry secrets: keys that name a secret are replaced by "[redacted]", long
 * strings are cut, and deep structures are flattened. Defence in depth — callers should not pass secrets at all.
 */
export function redactDetail(value: unknown, depth = 0): unknown {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  // NUL cannot be stored in PostgreSQL text or jsonb: one would make the whole batch fail, forever.
  if (typeof value === 'string') return (value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value).replace(/\0/g, '');
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => redactDetail(v, depth + 1));
  if (typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, secretKey.test(k) ? '[redacted]' : redactDetail(v, depth + 1)]),
    );
  }
  return String(value);
}
