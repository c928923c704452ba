import { createHmac, randomBytes } from 'node:crypto';
import type { Services } from '../../services.js';
import { safeEqual } from '../../lib/secrets.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { findActiveTenantById } from '../find-tenant-by-id.js';

const owner = (t: TenantCtx) => ({ kind: 'sso-state-key', id: t.id });

/**
 * The tenant's HMAC key for login states, kept in the vault (oldest wins a race). Created on first issue only: a
 * state presented for checking never creates one (anyone may name any tenant's id in a forged state).
 */
async function stateKey(s: Services, t: TenantCtx, create: boolean): Promise<Buffer | null> {
  const find = () => t.db.vaultSecret.findFirst({ where: { ownerKind: owner(t).kind, ownerId: t.id }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: { id: true } });
  let row = await find();
  if (!row) {
    if (!create) return null;
    await s.vault.put(t, owner(t), randomBytes(32));
    row = await find();
  }
  return s.vault.get(t, row!.id);
}

const mac = (key: Buffer, tenantId: string, nonce: string) => createHmac('sha256', key).update(`${tenantId}.${nonce}`).digest('base64url');

/**
 * OIDC `state` = `<tenant id>.<256-bit random>.<HMAC>`: the shared PUBLIC_URL/oidc/callback reads the tenant from it
 * and proves, before any lookup, that this deployment issued it for that tenant. Single use comes from LoginState.
 */
export async function issueSignedState(s: Services, t: TenantCtx): Promise<string> {
  const nonce = randomBytes(32).toString('base64url');
  return `${t.id}.${nonce}.${mac((await stateKey(s, t, true))!, t.id, nonce)}`;
}

/** The tenant a state was issued for, or null when it is malformed, forged, or its tenant is gone/disabled. */
export async function verifySignedState(s: Services, state: string): Promise<TenantCtx | null> {
  const [tenantId, nonce, tag, extra] = state.split('.');
  if (!tenantId || !nonce || !tag || extra !== undefined || !/^ten_[0-9a-z]{1,40}$/.test(tenantId)) return null;
  const t = await findActiveTenantById(s.db, tenantId);
  if (!t) return null;
  const key = await stateKey(s, t, false);
  return key && safeEqual(mac(key, t.id, nonce), tag) ? t : null;
}
