import type { EventBus } from '../revocation/event-bus.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { findActiveAccount, type Account } from './payload-statements.js';

const MAX_CACHED = 10_000;

interface Entry {
  account: Account;
  loadedAt: number;
}

/**
 * The active user behind a token request's `sub` (oidc-provider's `findAccount`), kept per node (issue 17 §5: it was
 * one statement of every authorization_code and refresh_token grant). It obeys the event bus as the access-token
 * verifier does: 'user.changed' and 'user.revoked' drop the user, 'tenant.changed' the tenant, 'bus.resumed'
 * everything, and while the bus is down an entry is served only within `EventBus.trusts`' bound. Only active users
 * are kept: an unknown or inactive one is read again on every request, so a reactivation needs no event.
 *
 * Revocation does not depend on this cache alone: revoking a user deletes its grants, codes and refresh tokens, which
 * the token endpoint still reads from the database on every request (docs/decisions/0041).
 */
export class AccountCache {
  readonly #entries = new Map<string, Entry>();
  /** Bumped by every invalidation: a read that overlapped one is answered but not kept (it may predate the change). */
  #generation = 0;

  constructor(private readonly bus: EventBus) {
    bus.subscribe((event) => {
      switch (event.type) {
        case 'user.changed':
        case 'user.revoked':
          this.#generation++;
          this.#entries.delete(key(event.tenantId, event.userId));
          break;
        case 'tenant.changed':
          this.#generation++;
          for (const k of this.#entries.keys()) if (k.startsWith(`${event.tenantId}|`)) this.#entries.delete(k);
          break;
        case 'bus.resumed':
          this.#generation++;
          this.#entries.clear();
          break;
        default:
      }
    });
  }

  async find(t: TenantCtx, sub: string): Promise<Account | undefined> {
    const k = key(t.id, sub);
    const hit = this.#entries.get(k);
    if (hit && this.bus.trusts(hit.loadedAt)) return hit.account;
    const generation = this.#generation;
    const loadedAt = this.bus.now();
    const account = await findActiveAccount(t, sub);
    this.#entries.delete(k);
    if (account && generation === this.#generation) {
      if (this.#entries.size >= MAX_CACHED) this.#entries.delete(this.#entries.keys().next().value!);
      this.#entries.set(k, { account, loadedAt });
    }
    return account;
  }

  /** How many users are kept (tests). */
  get size(): number {
    return this.#entries.size;
  }
}

const key = (tenantId: string, userId: string) => `${tenantId}|${userId}`;
