import { randomFillSync } from 'node:crypto';

const alphabet = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower-case: ascending in ASCII too

/** Random 128-bit id in base32 with a type prefix (`usr_…`, `ten_…`), so ids are self-describing in logs. */
export function newId(prefix: string): string {
  return `${prefix}_${base32(randomBytes(16))}`;
}

/** Largest millisecond time the 48 bits of a time-ordered id hold (year 10889). */
const MAX_MS = 2 ** 48 - 1;

/**
 * A time-ordered id for rows that are only ever appended (audit events): the same shape as {@link newId} — prefix,
 * 26 base32 characters, 128 bits — but the first 48 bits are `ms` (big-endian) and the other 80 random, as in ULID
 * and UUIDv7 (RFC 9562 §5.7). Ids then sort by time, byte for byte, so a B-tree primary key on them takes new rows at
 * its right edge instead of on a random leaf page of an index that grows without end: fewer pages touched and
 * split, less WAL, and no random reads once the index outgrows memory (issue 17; measured in docs/benchmarks.md).
 * 80 random bits keep ids unguessable and collisions within a millisecond out of reach.
 */
export function newTimeOrderedId(prefix: string, ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_MS) throw new RangeError(`time outside a time-ordered id: ${ms}`);
  const bytes = Buffer.allocUnsafe(16);
  // 48 bits do not fit a 32-bit shift: the high 16 bits and the low 32 separately.
  bytes.writeUInt16BE(Math.floor(ms / 2 ** 32), 0);
  bytes.writeUInt32BE(ms % 2 ** 32, 2);
  randomBytes(10).copy(bytes, 6);
  return `${prefix}_${base32(bytes)}`;
}

/** Big-endian base32 of the bytes (26 characters for 16 bytes, the last one padded with zero bits). */
function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xfff; // at most 12 bits are pending: 4 left over plus the new byte
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/**
 * Bytes from the CSPRNG, drawn from a pre-filled pool (as Node's own randomUUID does): one `randomBytes(16)` per id
 * was measured at ~25 µs of CPU per MCP tools/call (its audit event id). The pool's bytes are used once each.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;
function randomBytes(n: number): Buffer {
  if (offset + n > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(POOL_BYTES));
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + n);
  offset += n;
  return bytes;
}
