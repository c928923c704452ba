import { generateKeyPairSync } from 'node:crypto';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { selfSignedCertificate } from './self-signed-cert.js';

export interface SpKeys {
  privateKeyPem: string;
  certPem: string;
}

const owner = (t: TenantCtx) => ({ kind: 'saml-sp', id: t.id });

/**
 * The tenant's SAML service-provider key pair (signs AuthnRequests, decrypts assertions) and its self-signed
 * certificate, generated on first use and kept in the vault. If two nodes race, both rows exist and everyone uses
 * the oldest, so the published metadata stays stable.
 */
export async function spKeys(s: Services, t: TenantCtx): Promise<SpKeys> {
  const existing = await findKeys(s, t);
  if (existing) return existing;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const certPem = selfSignedCertificate({ privateKey, publicKey, commonName: `SSO Bridge SP ${t.slug}`, notBefore: s.clock.now(), years: 10 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await s.vault.put(t, owner(t), JSON.stringify({ privateKeyPem, certPem }));
  return (await findKeys(s, t))!;
}

async function findKeys(s: Services, t: TenantCtx): Promise<SpKeys | null> {
  const row = await t.db.vaultSecret.findFirst({
    where: { ownerKind: owner(t).kind, ownerId: t.id },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true },
  });
  if (!row) return null;
  return JSON.parse(await s.vault.getString(t, row.id)) as SpKeys;
}

/** Base64 body of a PEM certificate (what XML signatures and metadata carry). */
export const pemBody = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
