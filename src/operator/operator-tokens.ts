import { z } from 'zod';
import type { Db } from '../db/open-database.js';
import { conflict, notFound } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { hashToken, newSecretToken, safeEqual } from '../lib/secrets.js';

/** An operator token's shape: a prefix secret scanners recognise, then 256 random bits (newSecretToken). */
export const OPERATOR_TOKEN = /^sbo_[A-Za-z0-9_-]{43}$/;
export const OperatorNameSchema = z.string().trim().min(1, 'name is required').max(80).regex(/^[\p{L}\p{N} ._@-]+$/u, 'letters, digits, spaces and . _ @ - only');

const listed = { id: true, name: true, createdAt: true, lastUsedAt: true, revokedAt: true } as const;

/**
 * A credential for the operator view at /operator (the service's own operators, deployment-level). The token is
 * returned once; only its SHA-256 is stored (high-entropy secret: no salt or slow hash needed, like SCIM tokens).
 */
export async function createOperatorToken(db: Db, name: string) {
  const n = OperatorNameSchema.parse(name);
  const token = newSecretToken('sbo');
  const id = newId('opt');
  try {
    await db.operatorToken.create({ data: { id, name: n, tokenHash: hashToken(token) } });
  } catch (err) {
    if ((err as { code?: string }).code === 'P2002') throw conflict(`An operator token named "${n}" already exists`);
    throw err;
  }
  return { id, name: n, token };
}

export async function listOperatorTokens(db: Db) {
  return db.operatorToken.findMany({ select: listed, orderBy: { createdAt: 'asc' } });
}

/** Revokes a token by id or name; its sessions end at once (a session is live only while its token is unrevoked). */
export async function revokeOperatorToken(db: Db, idOrName: string, now: Date) {
  const row = await db.operatorToken.findFirst({ where: { OR: [{ id: idOrName }, { name: idOrName }] }, select: { id: true } });
  if (!row) throw notFound(`No operator token "${idOrName}"`);
  await db.operatorToken.updateMany({ where: { id: row.id, revokedAt: null }, data: { revokedAt: now } });
  await db.operatorSession.updateMany({ where: { operatorId: row.id, revokedAt: null }, data: { revokedAt: now } });
  return db.operatorToken.findUniqueOrThrow({ where: { id: row.id }, select: listed });
}

/**
 * The unrevoked operator a presented token belongs to, or null. The lookup is by the token's hash (a unique index);
 * the stored hash is then compared in constant time so the answer does not depend on how much of it matched.
 */
export async function verifyOperatorToken(db: Db, presented: unknown, now: Date): Promise<{ id: string; name: string } | null> {
  if (typeof presented !== 'string' || !OPERATOR_TOKEN.test(presented.trim())) return null;
  const hash = hashToken(presented.trim());
  const row = await db.operatorToken.findUnique({ where: { tokenHash: hash }, select: { id: true, name: true, tokenHash: true, revokedAt: true } });
  if (!row || row.revokedAt || !safeEqual(row.tokenHash, hash)) return null;
  await db.operatorToken.updateMany({ where: { id: row.id }, data: { lastUsedAt: now } });
  return { id: row.id, name: row.name };
}
