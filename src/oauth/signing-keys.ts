import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { SealedSecret } from '../vault/vault.js';

/** The vault owner kind of a tenant's key material (one secret per tenant, owner id = tenant id). */
export const SIGNING_KEYS_OWNER = 'oauth-jwks';
/** Old keys stay published after a rotation so tokens signed just before it still verify (≥ the longest token TTL). */
const KEEP_PREVIOUS = 2;

export interface TenantKeyMaterial {
  /** Private JWKS, newest (signing) key first. */
  keys: JWK[];
  /** Secrets signing oidc-provider's cookies, newest first. */
  cookieKeys: string[];
}

async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' };
}

async function findSecret(t: TenantCtx) {
  return t.db.vaultSecret.findFirst({
    where: { ownerKind: SIGNING_KEYS_OWNER, ownerId: t.id },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true },
  });
}

/**
 * The key material read with the tenant row itself (find-tenant.ts), per tenant context, with the bus time its read
 * started: the access-token verifier uses it instead of a read of its own unless a 'tenant.changed' came after that
 * (decision 0043). A WeakMap, not a field, so the sealed bytes never travel with the context into logs or fingerprints.
 */
const readWithTenant = new WeakMap<TenantCtx, SealedSigningKeys>();

export interface SealedSigningKeys {
  readonly sealed: SealedSecret;
  /** `EventBus.now()` when the read that brought them started. */
  readonly readAt: number;
}

/** Called by the tenant read that brought the tenant's sealed signing keys along (tenant-directory.ts). */
export function keepSealedSigningKeys(t: TenantCtx, keys: SealedSigningKeys): void {
  readWithTenant.set(t, keys);
}

/** The sealed key material read with this tenant context, if its read brought it. */
export function sealedSigningKeysOf(t: TenantCtx): SealedSigningKeys | undefined {
  return readWithTenant.get(t);
}

/** Key material read with the tenant row (sealedSigningKeysOf), opened by the vault. */
export async function openSigningKeys(s: Pick<Services, 'vault'>, t: TenantCtx, sealed: SealedSecret): Promise<TenantKeyMaterial> {
  return JSON.parse(await s.vault.openString(t, sealed)) as TenantKeyMaterial;
}

/**
 * The tenant's signing keys, generated on first use and kept encrypted in the vault. Two nodes racing to create them
 * both write, then both keep the oldest row, so every node signs with the same key.
 */
export async function loadSigningKeys(s: Services, t: TenantCtx): Promise<TenantKeyMaterial> {
  // One round trip when the keys exist: on the cold path of every node's first request for a tenant and after every
  // 'tenant.changed' unless the keys came with the tenant row (issue 17 §2).
  const existing = await s.vault.findOldestString(t, { kind: SIGNING_KEYS_OWNER, id: t.id });
  if (existing !== null) return JSON.parse(existing) as TenantKeyMaterial;
  const fresh: TenantKeyMaterial = { keys: [await newSigningKey()], cookieKeys: [randomBytes(32).toString('base64url')] };
  const mine = await s.vault.put(t, { kind: SIGNING_KEYS_OWNER, id: t.id }, JSON.stringify(fresh));
  const row = await findSecret(t);
  if (row && row.id !== mine) await s.vault.remove(t, mine);
  return JSON.parse(await s.vault.getString(t, row!.id)) as TenantKeyMaterial;
}

/**
 * Rotates the tenant's signing key: a new key signs from now on, the previous ones stay published for verification.
 * Every node rebuilds the tenant's provider on the 'tenant.changed' event.
 */
export async function rotateSigningKeys(s: Services, t: TenantCtx): Promise<{ kid: string; published: string[] }> {
  const current = await loadSigningKeys(s, t);
  const key = await newSigningKey();
  const next: TenantKeyMaterial = {
    keys: [key, ...current.keys].slice(0, KEEP_PREVIOUS + 1),
    cookieKeys: [randomBytes(32).toString('base64url'), ...current.cookieKeys].slice(0, KEEP_PREVIOUS + 1),
  };
  const row = await findSecret(t);
  await s.vault.replace(t, row!.id, JSON.stringify(next));
  await s.bus.publish({ type: 'tenant.changed', tenantId: t.id });
  return { kid: key.kid!, published: next.keys.map((k) => k.kid!) };
}

/** The public half of a private JWK. */
export function publicJwk(jwk: JWK): JWK {
  const { kty, n, e, crv, x, y, kid, alg, use } = jwk;
  return Object.fromEntries(Object.entries({ kty, n, e, crv, x, y, kid, alg, use }).filter(([, v]) => v !== undefined));
}
