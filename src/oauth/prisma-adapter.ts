import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Prisma } from '../generated/prisma/client.js';
import type { Clock } from '../lib/clock.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { unusedClientExpiry } from './registration-limit.js';
import { recordSuccessor } from './refresh-rotation.js';
import { protectClientSecret, revealClientSecret, type ClientSecretStore } from './client-secrets.js';

export interface AdapterDeps {
  clock: Clock;
  /** Told when a grant ends (destroyed or revoked), so every node's caches drop it (s.bus 'grant.revoked'). */
  onGrantRevoked(t: TenantCtx, grantId: string): Promise<void>;
  secrets: ClientSecretStore;
}

/** Models whose single use must be enforced by the database itself: two nodes may redeem one code at once. */
const singleUse = new Set(['AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest']);

/**
 * oidc-provider storage over the OidcPayload table, one adapter per (tenant, model). Every query goes through the
 * tenant-scoped client, so one tenant's provider can never read another tenant's codes, tokens or clients.
 * Expiry is judged by the application clock (tests advance it instead of sleeping).
 */
export function prismaAdapterFactory(t: TenantCtx, deps: AdapterDeps) {
  return (model: string): Adapter => {
    const db = t.db.oidcPayload;
    const now = () => deps.clock.now();
    const live = () => ({ OR: [{ expiresAt: null }, { expiresAt: { gt: now() } }] });

    const toPayload = async (row: { payload: unknown; consumedAt: Date | null } | null) => {
      if (!row) return undefined;
      let payload = row.payload as AdapterPayload;
      if (model === 'Client') payload = await revealClientSecret(t, deps.secrets, payload);
      return payload;
    };

    return {
      async upsert(id, payload, expiresIn) {
        let stored: AdapterPayload = payload;
        if (model === 'Client') stored = await protectClientSecret(t, deps.secrets, id, payload);
        const expiresAt = expiresIn ? new Date(now().getTime() + expiresIn * 1000) : model === 'Client' ? unusedClientExpiry(payload, now()) : null;
        const columns = {
          payload: stored as Prisma.InputJsonValue,
          grantId: payload.grantId ?? null,
          userCode: payload.userCode ?? null,
          uid: payload.uid ?? null,
          // Sessions and grants carry the account too: revoking a user deletes every row that names them.
          accountId: payload.accountId ?? payload.session?.accountId ?? null,
          expiresAt,
        };
        await db.upsert({
          where: { tenantId_model_id: { tenantId: t.id, model, id } },
          create: { tenantId: t.id, model, id, ...columns },
          update: columns,
        });
        if (model === 'RefreshToken') await recordSuccessor(t, deps.clock, id, payload.grantId);
        // A self-registered client that a user has granted is in use: it no longer expires (registration-limit.ts).
        if (model === 'Grant' && typeof payload.clientId === 'string') {
          await db.updateMany({ where: { model: 'Client', id: payload.clientId, expiresAt: { not: null } }, data: { expiresAt: null } });
        }
      },

      async find(id) {
        return toPayload(await db.findFirst({ where: { model, id, ...live() } }));
      },

      async findByUid(uid) {
        return toPayload(await db.findFirst({ where: { model, uid, ...live() } }));
      },

      async findByUserCode(userCode) {
        return toPayload(await db.findFirst({ where: { model, userCode, ...live() } }));
      },

      async consume(id) {
        const at = now();
        if (singleUse.has(model)) {
          // The conditional update is the lock: of two parallel redemptions exactly one sees count === 1.
          const { count } = await db.updateMany({ where: { model, id, consumedAt: null }, data: { consumedAt: at } });
          if (count === 0) throw new errors.InvalidGrant(`${model} already used`);
        }
        const row = await db.findFirst({ where: { model, id } });
        if (!row) return;
        const payload = { ...(row.payload as object), consumed: Math.floor(at.getTime() / 1000) };
        await db.updateMany({
          where: { model, id },
          data: { payload: payload as Prisma.InputJsonValue, consumedAt: row.consumedAt ?? at },
        });
      },

      async destroy(id) {
        const { count } = await db.deleteMany({ where: { model, id } });
        if (model === 'Grant' && count > 0) await deps.onGrantRevoked(t, id);
        if (model === 'Client') await deps.secrets.remove(t, id);
      },

      async revokeByGrantId(grantId) {
        await db.deleteMany({ where: { model, grantId } });
      },
    };
  };
}
