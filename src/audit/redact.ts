import { storableText } from '../lib/lone-surrogates.js';

const secretKey = /pass(word)?|secret|token|authorization|cookie|private|assertion|credential|api[-_]?key|^code$/i;
const MAX_STRING = 512;
const MAX_DEPTH = 4;

/**
 * Audit details must be small and never carry secrets: keys that name a secret are replaced by "[redacted]", long
 * strings are cut, and deep structures are flattened. Defence in depth — callers should not pass secrets at all.
 */
export function redactDetail(value: unknown, depth = 0): unknown {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  // Cut first, then made storable: the cut may split a surrogate pair.
  if (typeof value === 'string') return storableText(value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value);
  if (depth >= MAX_DEPTH) return '[…]';
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => redactDetail(v, depth + 1));
  if (typeof value === 'object') {
    // A plain loop rather than Object.fromEntries(Object.entries(…).map(…)): every tools/call's audit detail passes
    // here, and the three intermediate arrays were most of its cost. Own data properties, as fromEntries defines them
    // (a "__proto__" key stays a key, never the prototype).
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const v = secretKey.test(key) ? '[redacted]' : redactDetail((value as Record<string, unknown>)[key], depth + 1);
      const k = storableText(key);
      if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      else out[k] = v;
    }
    return out;
  }
  return String(value);
}
