/**
 * AuditEvent.seq is a BIGINT (a busy tenant passes 2^31 events), which Prisma returns as a JS bigint, and
 * JSON.stringify throws on bigints by default. A row serialised anywhere (a log line, a JSON response, a test) should
 * not crash on it: bigints serialise as JSON numbers when exact, else as strings. Imported once by the audit log.
 */
declare global {
  interface BigInt {
    toJSON(): number | string;
  }
}

if (!Object.prototype.hasOwnProperty.call(BigInt.prototype, 'toJSON')) {
  Object.defineProperty(BigInt.prototype, 'toJSON', {
    value(this: bigint) {
      return this <= BigInt(Number.MAX_SAFE_INTEGER) && this >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(this) : this.toString();
    },
    writable: true,
    configurable: true,
  });
}

export {};
