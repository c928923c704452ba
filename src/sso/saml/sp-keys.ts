import { generateKeyPairSync } from 'node:crypto';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { selfSignedCertificate } from './self-signed-cert.js';

export interface SpKey {
  privateKeyPem: string;
  certPem: string;
}

/** One key of the tenant's SP keyring. Signing keys sign from `activeFrom`; encryption keys decrypt until `retireAt`. */
export interface StoredSpKey extends SpKey {
  use: 'signing' | 'encryption';
  activeFrom: string;
  retireAt?: string;
}

/** The keys in force at one instant. */
export interface SpKeys {
  /** Signs our AuthnRequests and logout messages now. */
  signing: SpKey;
  /** Published in metadata: the signing key in force, then the next one while a rotation is pending. */
  publishedSigning: SpKey[];
  /** Published in metadata and tried for decryption, newest first (two during a rotation's overlap). */
  encryption: SpKey[];
}

const owner = (t: TenantCtx) => ({ kind: 'saml-sp', id: t.id });

export function newSpKey(t: TenantCtx, now: Date): SpKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const certPem = selfSignedCertificate({ privateKey, publicKey, commonName: `SSO Bridge SP ${t.slug}`, notBefore: now, years: 10 });
  return { privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certPem };
}

/**
 * The tenant's SAML service-provider keyring, kept in the vault: separate signing and encryption keys (so an
 * encryption key can be replaced without touching signatures and the other way round), generated on first use. If two
 * nodes race, both rows exist and everyone uses the oldest, so the published metadata stays stable.
 */
export async function spKeys(s: Services, t: TenantCtx): Promise<SpKeys> {
  const now = s.clock.now();
  const existing = await readKeyring(s, t);
  if (existing) return keysAt(existing.keys, now);
  const activeFrom = new Date(0).toISOString();
  const keys: StoredSpKey[] = [
    { use: 'signing', activeFrom, ...newSpKey(t, now) },
    { use: 'encryption', activeFrom, ...newSpKey(t, now) },
  ];
  await s.vault.put(t, owner(t), JSON.stringify({ keys }));
  return keysAt((await readKeyring(s, t))!.keys, now);
}

/** What is in force at `now` (pure; see sp-key-rotation.ts for how keys enter and leave the ring). */
export function keysAt(keys: StoredSpKey[], now: Date): SpKeys {
  const at = now.getTime();
  const signing = keys.filter((k) => k.use === 'signing').sort((a, b) => Date.parse(a.activeFrom) - Date.parse(b.activeFrom));
  const active = signing.filter((k) => Date.parse(k.activeFrom) <= at);
  const current = active[active.length - 1] ?? signing[0]!;
  const pending = signing.filter((k) => Date.parse(k.activeFrom) > at);
  const encryption = keys
    .filter((k) => k.use === 'encryption' && (!k.retireAt || Date.parse(k.retireAt) > at))
    .sort((a, b) => Date.parse(b.activeFrom) - Date.parse(a.activeFrom));
  const plain = (k: StoredSpKey): SpKey => ({ privateKeyPem: k.privateKeyPem, certPem: k.certPem });
  return { signing: plain(current), publishedSigning: [current, ...pending].map(plain), encryption: encryption.map(plain) };
}

/**
 * The stored keyring. Rows written before separate keys existed hold one `{privateKeyPem, certPem}` pair used for
 * both purposes: read as a signing and an encryption key sharing that material (the first rotation separates them).
 */
export async function readKeyring(s: Services, t: TenantCtx): Promise<{ secretId: string; keys: StoredSpKey[] } | null> {
  const row = await t.db.vaultSecret.findFirst({
    where: { ownerKind: owner(t).kind, ownerId: t.id },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true },
  });
  if (!row) return null;
  const stored = JSON.parse(await s.vault.getString(t, row.id)) as { keys?: StoredSpKey[] } & Partial<SpKey>;
  if (stored.keys) return { secretId: row.id, keys: stored.keys };
  const legacy = { privateKeyPem: stored.privateKeyPem!, certPem: stored.certPem!, activeFrom: new Date(0).toISOString() };
  return { secretId: row.id, keys: [{ use: 'signing', ...legacy }, { use: 'encryption', ...legacy }] };
}

/** Base64 body of a PEM certificate (what XML signatures and metadata carry). */
export const pemBody = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
