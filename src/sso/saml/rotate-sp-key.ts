import { X509Certificate } from 'node:crypto';
import { badRequest, conflict } from '../../lib/errors.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { keysAt, newSpKey, readKeyring, spKeys, type StoredSpKey } from './sp-keys.js';

const DAY = 86_400_000;
export const DEFAULT_OVERLAP_DAYS = 7;

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

/**
 * `idp rotate-sp-key`: a new signing key and a new encryption key, announced before use (SAML metadata §2.4.1.1 lets
 * several KeyDescriptors of one use coexist):
 * - the next signing certificate is published at once, beside the current one, and signs only once the overlap has
 *   passed — every IdP that re-reads our metadata in the meantime trusts it before it sees a signature by it;
 * - the next encryption certificate is published at once and decrypts at once; the previous one still decrypts (and
 *   stays published) until the overlap ends, so an IdP encrypting with either key keeps working.
 * Keys that can no longer be in force (signing keys superseded, encryption keys retired) leave the ring here.
 */
export async function rotateSpKey(s: Services, t: TenantCtx, overlapDays = DEFAULT_OVERLAP_DAYS) {
  if (!Number.isInteger(overlapDays) || overlapDays < 0 || overlapDays > 365) throw badRequest('--overlap-days must be a whole number from 0 to 365');
  await spKeys(s, t); // creates the keyring on first use
  const ring = (await readKeyring(s, t))!;
  const now = s.clock.now();
  const at = now.getTime();
  const pending = ring.keys.find((k) => k.use === 'signing' && Date.parse(k.activeFrom) > at);
  if (pending) throw conflict(`a rotation is already under way: the next signing key is used from ${pending.activeFrom}`);
  const switchAt = new Date(at + overlapDays * DAY).toISOString();
  const inForce = keysAt(ring.keys, now);
  const keep = ring.keys.filter(
    (k) =>
      (k.use === 'signing' && k.certPem === inForce.signing.certPem) ||
      (k.use === 'encryption' && inForce.encryption.some((e) => e.certPem === k.certPem)),
  );
  const keys: StoredSpKey[] = [
    ...keep.map((k) => (k.use === 'encryption' ? { ...k, retireAt: k.retireAt && Date.parse(k.retireAt) < Date.parse(switchAt) ? k.retireAt : switchAt } : k)),
    { use: 'signing', activeFrom: switchAt, ...newSpKey(t, now) },
    { use: 'encryption', activeFrom: now.toISOString(), ...newSpKey(t, now) },
  ];
  await s.vault.replace(t, ring.secretId, JSON.stringify({ keys }));
  return describeSpKeys(keys, now);
}

/** What `idp rotate-sp-key` prints: certificate fingerprints and dates, never key material. */
export function describeSpKeys(keys: StoredSpKey[], now: Date) {
  const inForce = keysAt(keys, now);
  const next = keys.find((k) => k.use === 'signing' && Date.parse(k.activeFrom) > now.getTime());
  const retiring = keys.filter((k) => k.use === 'encryption' && k.retireAt).map((k) => k.retireAt!);
  return {
    signing: { current: fingerprint(inForce.signing.certPem), next: next ? fingerprint(next.certPem) : null, switchAt: next?.activeFrom ?? null },
    encryption: { published: inForce.encryption.map((k) => fingerprint(k.certPem)), previousRetiresAt: retiring.sort()[0] ?? null },
  };
}
