import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A bearer secret with 256 bits of entropy, URL-safe, with a recognisable prefix for secret scanners. */
export function newSecretToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** Tokens are stored as SHA-256 hashes: high-entropy secrets need no salt or slow hash. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time comparison of two strings of any length (length difference leaks only through the hash). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
