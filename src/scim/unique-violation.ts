import { Prisma } from '../generated/prisma/client.js';
import { scimUniqueness } from './scim-error.js';

/**
 * Runs a write; a unique-index violation becomes 409 uniqueness (RFC 7644 §3.3): Prisma's P2002 from a model query,
 * P2010 ("raw query failed") whose driver error is a unique violation (SQLSTATE 23505) from a raw statement, or the
 * driver's own error with SQLSTATE 23505 from a hot statement (src/db/hot-sql.ts: pg's and PGlite's errors carry `code`).
 */
export async function mapUniqueViolation<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && (err.code === 'P2002' || (err.code === 'P2010' && isRawUniqueViolation(err.meta)))) {
      throw scimUniqueness(what);
    }
    if (isDriverUniqueViolation(err)) throw scimUniqueness(what);
    throw err;
  }
}

function isRawUniqueViolation(meta: Record<string, unknown> | undefined): boolean {
  const cause = (meta?.driverAdapterError as { cause?: { kind?: string; originalCode?: string } } | undefined)?.cause;
  return cause?.kind === 'UniqueConstraintViolation' || cause?.originalCode === '23505';
}

/** pg's DatabaseError and PGlite's carry the SQLSTATE as `code` (Prisma's own codes start with P). */
function isDriverUniqueViolation(err: unknown): boolean {
  return err instanceof Error && (err as Error & { code?: unknown }).code === '23505';
}
