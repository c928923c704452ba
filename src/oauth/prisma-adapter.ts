import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Clock } from '../lib/clock.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { hasLoneSurrogate } from '../lib/lone-surrogates.js';
import { unusedClientExpiry } from './registration-limit.js';
import { deferConsume, deferredConsumeWritten, successorRecord, takeClaimedRow } from './refresh-rotation.js';
import { protectClientSecret, revealClientSecret, type ClientSecretStore } from './client-secrets.js';
import { keepGrant, prefetching, takeGrant } from './grant-prefetch.js';
import { consumePayload, deletePayload, deletePayloadsOfGrant, findLivePayload, findLivePayloadWithGrant, upsertPayload, type LookupColumn } from './payload-statements.js';

export interface AdapterDeps {
  clock: Clock;
  /** Told when a grant ends (destroyed or revoked), so every node's caches drop it (s.bus 'grant.revoked'). */
  onGrantRevoked(t: TenantCtx, grantId: string): Promise<void>;
  secrets: ClientSecretStore;
}

/** Models whose single use must be enforced by the database itself: two nodes may redeem one code at once. */
const singleUse = new Set(['AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest']);

/**
 * Safety net of the client cache (docs/decisions/0006): the cache lives in the tenant's provider, which every node
 * drops on 'tenant.changed' (published by `client remove`) and 'bus.resumed'; this bounds a missed notification.
 */
export const CLIENT_CACHE_MS = 60_000;

/**
 * oidc-provider storage over the OidcPayload table, one adapter per (tenant, model), one statement per call
 * (payload-statements.ts; every statement binds the tenant's id, so one tenant's provider can never read another
 * tenant's codes, tokens or clients). Expiry is judged by the application clock (tests advance it instead of sleeping).
 *
 * Clients are read on every token request and change only through this adapter (DCR, destroy) or `client remove`
 * (which publishes 'tenant.changed', rebuilding the provider and this cache with it): a client that does not expire
 * is kept per provider, secret revealed, for CLIENT_CACHE_MS. Clients with an expiry (self-registered, not yet
 * granted) are never cached, so an expired one is refused as before.
 */
export function prismaAdapterFactory(t: TenantCtx, deps: AdapterDeps) {
  // The payload is kept as its JSON text: each hit parses a fresh copy, so nothing oidc-provider does to the object it
  // gets can change what the next request reads. JSON.parse of the text costs a fraction of a structuredClone of the
  // object (issue 17 §5: 3.4 % of the token endpoint's busy samples). Exact: a client payload is JSON (read from jsonb,
  // its secret revealed as a string).
  const clients = new Map<string, { json: string; until: number }>();
  return (model: string): Adapter => {
    const now = () => deps.clock.now();

    const find = async (column: LookupColumn, value: string) => {
      if (model === 'Client' && column === 'id') {
        const hit = clients.get(value);
        if (hit && hit.until > now().getTime()) return JSON.parse(hit.json) as AdapterPayload;
        clients.delete(value);
      }
      const row = await findLivePayload(t, model, column, value, now());
      if (!row) return undefined;
      if (model !== 'Client') return row.payload;
      const payload = await revealClientSecret(t, deps.secrets, row.payload);
      if (column === 'id' && row.expiresAt === null) clients.set(value, { json: JSON.stringify(payload), until: now().getTime() + CLIENT_CACHE_MS });
      return payload;
    };

    return {
      async upsert(id, payload, expiresIn) {
        let stored: AdapterPayload = payload;
        if (model === 'Client') {
          // A registration's JSON is the one client body stored as given (RFC 7591): a lone surrogate in it would fail
          // the statement with a 500; it is invalid metadata.
          if (hasLoneSurrogate(payload)) throw new errors.InvalidClientMetadata('client metadata must be valid Unicode text');
          clients.delete(id);
          stored = await protectClientSecret(t, deps.secrets, id, payload);
        }
        const at = now();
        const expiresAt = expiresIn ? new Date(at.getTime() + expiresIn * 1000) : model === 'Client' ? unusedClientExpiry(payload, at) : null;
        const successor = model === 'RefreshToken' ? successorRecord(t, id, payload.grantId) : null;
        await upsertPayload(
          t,
          {
            model, id, payload: stored, expiresAt, now: at,
            grantId: payload.grantId ?? null,
            userCode: payload.userCode ?? null,
            uid: payload.uid ?? null,
            // Sessions and grants carry the account too: revoking a user deletes every row that names them.
            accountId: payload.accountId ?? payload.session?.accountId ?? null,
          },
          {
            // A self-registered client that a user has granted is in use: it no longer expires (registration-limit.ts).
            ...(model === 'Grant' && typeof payload.clientId === 'string' ? { grantOfClient: payload.clientId } : {}),
            ...(successor ? { successor } : {}),
          },
        );
        if (successor?.consumedAt) deferredConsumeWritten();
      },

      async find(id) {
        if (model === 'RefreshToken') {
          const claimed = takeClaimedRow(t, id, now());
          if (claimed !== undefined) return (claimed?.payload ?? undefined) as AdapterPayload | undefined;
        }
        if (model === 'Grant') {
          const kept = takeGrant(t, id, now());
          if (kept !== undefined) return kept?.payload;
        }
        // At the token endpoint a code is read with its grant, which oidc-provider looks up next (grant-prefetch.ts).
        if (model === 'AuthorizationCode' && prefetching()) {
          const row = await findLivePayloadWithGrant(t, model, id, now());
          if (row?.grantId) keepGrant(t, row.grantId, row.grantPayload === null ? null : { payload: row.grantPayload, expiresAt: row.grantExpiresAt });
          return row?.payload;
        }
        return find('id', id);
      },

      async findByUid(uid) {
        return find('uid', uid);
      },

      async findByUserCode(userCode) {
        return find('userCode', userCode);
      },

      async consume(id) {
        // A refresh token this request claimed: its consume is written with its successor (refresh-rotation.ts).
        if (model === 'RefreshToken' && deferConsume(t, id, now())) return;
        // Single use: the conditional update is the lock, of two parallel redemptions exactly one matches a row.
        const matched = await consumePayload(t, model, id, now(), singleUse.has(model));
        if (!matched && singleUse.has(model)) throw new errors.InvalidGrant(`${model} already used`);
      },

      async destroy(id) {
        if (model === 'Client') clients.delete(id);
        const existed = await deletePayload(t, model, id);
        if (model === 'Grant' && existed) await deps.onGrantRevoked(t, id);
        if (model === 'Client') await deps.secrets.remove(t, id);
      },

      async revokeByGrantId(grantId) {
        await deletePayloadsOfGrant(t, model, grantId);
      },
    };
  };
}
