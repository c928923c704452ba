import { ZodError } from 'zod';
import { ConfigError } from '../config/config.js';
import { DatabaseLockedError } from '../db/pglite-lock.js';
import { AppError } from '../lib/errors.js';
import { MasterKeyError } from '../vault/master-keys.js';
import { UsageError } from './parse-args.js';
import { CatalogError } from '../catalog/catalog-config.js';

/** A one-line, secret-free message for a failed command, and whether it was the caller's mistake (< 500). */
export function describeError(err: unknown): { message: string; status: number } {
  if (err instanceof AppError && err.expose) return { message: err.message, status: err.status };
  if (err instanceof ZodError) {
    return { message: err.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '), status: 400 };
  }
  if (err instanceof UsageError || err instanceof ConfigError || err instanceof DatabaseLockedError || err instanceof MasterKeyError || err instanceof CatalogError) {
    return { message: err.message, status: 400 };
  }
  return { message: `internal error: ${(err as Error)?.message ?? String(err)}`, status: 500 };
}
