import { Prisma } from '../generated/prisma/client.js';
import { scimUniqueness } from './scim-error.js';

/** Runs a write; a unique-index violation (Prisma P2002) becomes 409 uniqueness (RFC 7644 §3.3). */
export async function mapUniqueViolation<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') throw scimUniqueness(what);
    throw err;
  }
}
