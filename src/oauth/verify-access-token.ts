import { hotQuery, statement } from '../db/hot-sql.js';
import type { Clock } from '../lib/clock.js';
import type { EventBus } from '../revocation/event-bus.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { AccessTokenInfo, AccessTokenVerifier, LiveGrant, VerifyHooks } from './access-token.js';
import { issuerUrl } from './oauth-urls.js';
import { PublicKeyImports, tenantKeySelector } from './public-key-imports.js';
import { REVOKED_ACCESS_TOKEN } from './revoke-access-token.js';
import { verifyRs256Jwt, type KeySelector } from './rs256-jwt.js';
import { loadSigningKeys, openSigningKeys, publicJwk, sealedSigningKeysOf, type TenantKeyMaterial } from './signing-keys.js';
import type { SealedSecret } from '../vault/vault.js';

interface Cached {
  info: AccessTokenInfo;
  userId: string | null;
  loadedAt: number;
}

const MAX_CACHED = 10_000;
/** Tenants whose last opened key set is kept (a few kB each); least recently opened dropped first. */
const MAX_OPENED = 1_000;
/** Tenants whose last 'tenant.changed' time is remembered; past it, one floor for all (a few stale reads, no growth). */
const MAX_CHANGED = 10_000;

/**
 * Verifies our own RFC 9068 JWT access tokens: signature with the tenant's keys, `typ` at+jwt, issuer, `aud` equal to
 * the expected resource (RFC 8707), the tenant claim, expiry by the application clock, then live state — the grant
 * (or, for client credentials, the client) still exists, the token itself was not revoked (RFC 7009, by its `jti`),
 * and the user is active and not revoked after issue.
 *
 * A verified token is cached until it expires. The cache obeys the event bus: 'grant.revoked', 'token.revoked',
 * 'user.revoked', 'user.changed' and 'tenant.changed' drop the affected entries at once on every node, so a revocation
 * is seen by the very next request; after a gap in the bus (`bus.resumed`) everything is dropped, and while the bus
 * is down an entry is served only within the bus's trust bound (`EventBus.trusts`). A cache hit is a Map lookup and a
 * few comparisons. A verification that overlapped any of these events is answered but not cached: it may have read
 * the grant, the user or the keys before the change.
 *
 * The tenant's key set (which kids verify) is read again after every 'tenant.changed', usually with the tenant row
 * itself (find-tenant.ts: the context carries the sealed keys, so no round trip of its own); the imported public keys
 * are kept by kid across changes ({@link PublicKeyImports}), so a change that left the keys alone imports nothing,
 * a rotated-in key verifies at once and a removed one is refused at once (decision 0043).
 *
 * The MCP endpoint may read the grant ahead, in the same statement as the tenant row (`hooks.prefetched`, decision
 * 0049): every check above still runs on the verified token, the read counts only for the grant and subject it names.
 */
export class JwtAccessTokenVerifier implements AccessTokenVerifier {
  readonly #cache = new Map<string, Cached>();
  /** Key sets of contexts that came without their keys (read separately), per tenant, dropped on 'tenant.changed'. */
  readonly #keys = new Map<string, { keys: Promise<KeySelector>; loadedAt: number }>();
  /** Key sets of contexts that brought their sealed keys: as fresh as the context (the tenant directory's). */
  readonly #keysBySealed = new WeakMap<SealedSecret, Promise<KeySelector>>();
  /** Per tenant, the sealed row its key set was last opened from (kept across 'tenant.changed'; #sameAsOpened). */
  readonly #opened = new Map<string, { sealed: SealedSecret; keys: Promise<KeySelector> }>();
  /** Imported public keys by kid, kept across 'tenant.changed' (tests count the imports). */
  readonly keyImports = new PublicKeyImports();
  /** Bumped by every event that drops cached tokens. */
  #generation = 0;
  /** `EventBus.now()` of the last event that dropped cached tokens (a prefetched grant read before it is not cached). */
  #droppedAt = -Infinity;
  /** Bus time of each tenant's last 'tenant.changed': sealed keys read before it are not used. */
  readonly #changedAt = new Map<string, number>();
  /** Sealed keys read before this are not used (bus.resumed, or #changedAt outgrew its bound). */
  #changedFloor = -Infinity;

  constructor(
    private readonly s: Pick<Services, 'config' | 'vault' | 'bus'> & { clock: Clock },
    private readonly bus: EventBus,
  ) {
    bus.subscribe((event) => {
      if (event.type === 'grant.revoked' || event.type === 'token.revoked' || event.type === 'user.revoked' || event.type === 'user.changed' || event.type === 'tenant.changed' || event.type === 'bus.resumed') {
        this.#generation++;
        this.#droppedAt = this.bus.now();
      }
      switch (event.type) {
        case 'grant.revoked':
          this.#drop((c) => c.info.tenantId === event.tenantId && c.info.grantId === event.grantId);
          break;
        case 'token.revoked':
          this.#drop((c) => c.info.tenantId === event.tenantId && c.info.tokenId === event.tokenId);
          break;
        case 'user.revoked':
        case 'user.changed':
          this.#drop((c) => c.info.tenantId === event.tenantId && c.userId === event.userId);
          break;
        case 'tenant.changed':
          if (this.#changedAt.size >= MAX_CHANGED) {
            this.#changedAt.clear();
            this.#changedFloor = this.bus.now();
          }
          this.#changedAt.set(event.tenantId, this.bus.now());
          this.#keys.delete(event.tenantId);
          this.#drop((c) => c.info.tenantId === event.tenantId);
          break;
        case 'bus.resumed':
          this.#changedAt.clear();
          this.#changedFloor = this.bus.now();
          this.#keys.clear();
          this.#cache.clear();
          break;
        default:
      }
    });
  }

  #drop(match: (c: Cached) => boolean) {
    for (const [token, c] of this.#cache) if (match(c)) this.#cache.delete(token);
  }

  readsLiveState(token: string): boolean {
    const hit = this.#cache.get(token);
    return !(hit && this.bus.trusts(hit.loadedAt));
  }

  async verify(t: TenantCtx, token: string, audience: string, hooks?: VerifyHooks): Promise<AccessTokenInfo | null> {
    const now = this.s.clock.now().getTime();
    const hit = this.#cache.get(token);
    if (hit && this.bus.trusts(hit.loadedAt)) {
      const { info } = hit;
      if (info.tenantId !== t.id || info.audience !== audience) return null;
      if (info.expiresAt.getTime() <= now) {
        this.#cache.delete(token);
        return null;
      }
      return info;
    }
    if (token.length > 8192 || token.split('.').length !== 3) return null;
    // A grant read ahead (hooks.prefetched) is as old as its read: the entry's age and the overlap check start there.
    const readAt = hooks?.prefetched?.readAt;
    const loadedAt = Math.min(this.bus.now(), readAt ?? Infinity);
    const generation = this.#generation;
    const info = await this.#verifyFresh(t, token, audience, now, hooks).catch(() => null);
    if (!info || generation !== this.#generation || (readAt !== undefined && readAt <= this.#droppedAt)) return info;
    if (this.#cache.size >= MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(token, { info, userId: info.userId, loadedAt });
    return info;
  }

  async #verifyFresh(t: TenantCtx, token: string, audience: string, now: number, hooks?: VerifyHooks): Promise<AccessTokenInfo | null> {
    // In line, not on the thread pool (rs256-jwt.ts, decision 0054): a first token check is one hand-off shorter.
    const payload = verifyRs256Jwt(token, await this.#keySet(t), {
      issuer: issuerUrl(this.s.config.publicUrl, t),
      audience,
      typ: 'at+jwt',
      now,
      requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'jti'],
    });
    if (!payload) return null;
    // One audience only: a token minted for several resources is not "this resource's" token.
    if (Array.isArray(payload.aud) && payload.aud.length !== 1) return null;
    if (payload.tid !== t.id || typeof payload.jti !== 'string') return null;
    const clientId = String(payload.client_id);
    const grantId = typeof payload.gid === 'string' ? payload.gid : null;
    const tokenId = payload.jti;
    const issuedAt = new Date(payload.iat! * 1000);
    let userId: string | null = null;
    if (grantId) {
      hooks?.onSignedSubject?.(payload.sub!);
      const ahead = hooks?.prefetched;
      // The grant read ahead counts only for exactly the tenant, grant, subject and token id this verified token names,
      // and only if no event that drops tokens (a revocation) arrived since its read started; otherwise it is read
      // again.
      const usable = ahead && ahead.tenantId === t.id && ahead.grantId === grantId && ahead.subject === payload.sub && ahead.tokenId === tokenId &&
        ahead.readAt > this.#droppedAt;
      const live = usable ? ahead.live : await liveGrant(t, grantId, tokenId);
      if (!live || (live.expiresAt && new Date(live.expiresAt).getTime() <= now) || live.accountId !== payload.sub) return null;
      if (!live.active || live.tokenRevoked) return null;
      // iat has one-second precision: a token from the very second of a revocation counts as revoked.
      if (live.revokedBefore && new Date(live.revokedBefore).getTime() >= issuedAt.getTime()) return null;
      userId = payload.sub!;
    } else {
      // Client credentials: the token lives as long as its client is registered and it was not revoked itself.
      if (payload.sub !== clientId) return null;
      const rows = await t.db.oidcPayload.findMany({
        where: { OR: [{ model: 'Client', id: clientId }, { model: REVOKED_ACCESS_TOKEN, id: tokenId }] },
        select: { model: true },
      });
      if (!rows.some((r) => r.model === 'Client') || rows.some((r) => r.model === REVOKED_ACCESS_TOKEN)) return null;
    }
    return {
      tenantId: t.id,
      userId,
      clientId,
      scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
      audience,
      grantId,
      tokenId,
      issuedAt,
      expiresAt: new Date(payload.exp! * 1000),
    };
  }

  #keySet(t: TenantCtx): Promise<KeySelector> {
    const read = sealedSigningKeysOf(t);
    // Keys that came with the tenant row, unless a 'tenant.changed' came after their read (a context held across it).
    if (read && read.readAt > this.#changedFloor && read.readAt > (this.#changedAt.get(t.id) ?? -Infinity)) {
      let keys = this.#keysBySealed.get(read.sealed) ?? this.#sameAsOpened(t.id, read.sealed);
      if (!keys) {
        const loading = openSigningKeys(this.s, t, read.sealed).then((m) => this.#selector(m));
        loading.catch(() => {
          this.#keysBySealed.delete(read.sealed);
          if (this.#opened.get(t.id)?.keys === loading) this.#opened.delete(t.id);
        });
        this.#opened.delete(t.id);
        if (this.#opened.size >= MAX_OPENED) this.#opened.delete(this.#opened.keys().next().value!);
        this.#opened.set(t.id, { sealed: read.sealed, keys: loading });
        keys = loading;
      }
      this.#keysBySealed.set(read.sealed, keys);
      return keys;
    }
    const hit = this.#keys.get(t.id);
    if (hit && this.bus.trusts(hit.loadedAt)) return hit.keys;
    const entry = { keys: loadSigningKeys(this.s as Services, t).then((m) => this.#selector(m)), loadedAt: this.bus.now() };
    entry.keys.catch(() => {
      if (this.#keys.get(t.id) === entry) this.#keys.delete(t.id);
    });
    this.#keys.set(t.id, entry);
    return entry.keys;
  }

  /**
   * The key set last opened for this tenant, if the row just read is byte for byte the row it was opened from: after a
   * 'tenant.changed' that left the keys alone (a settings edit) the same ciphertext is neither decrypted nor parsed
   * again (~0.2 ms, issue 17 §2). Same id, data key and authenticated ciphertext give the same plaintext (the vault's
   * data keys are kept in memory anyway); a rotation writes a new ciphertext, which is opened.
   */
  #sameAsOpened(tenantId: string, sealed: SealedSecret): Promise<KeySelector> | undefined {
    const last = this.#opened.get(tenantId);
    if (!last) return undefined;
    const same = last.sealed.id === sealed.id && last.sealed.keyId === sealed.keyId && Buffer.compare(last.sealed.ciphertext, sealed.ciphertext) === 0;
    return same ? last.keys : undefined;
  }

  #selector(material: TenantKeyMaterial): KeySelector {
    return tenantKeySelector(material.keys.map(publicJwk), this.keyImports);
  }
}

/**
 * The grant, its user's state and whether the token itself was revoked (RFC 7009: a deny-list row by `jti`, kept until
 * the token expires) in ONE round trip (a cold token's check was two sequential queries; issue 17 §2).
 * Raw SQL bypasses the tenant-scoped client, so both tables are bound to the tenant explicitly: a grant or a user of
 * another tenant with the same id is never read (test/oauth/verify-access-token-guards.test.ts). A prepared statement on
 * the driver (hot-sql.ts): this is every user's first request that the MCP endpoint's cold read did not read ahead
 * (src/mcp/cold-read.ts, which sends the same SQL with the tenant row's id). `tenant`, `grant` and `jti` are SQL
 * expressions; the deny-list probe is a primary-key lookup.
 */
export function liveGrantSql(tenant: string, grant: string, jti: string): string {
  return `SELECT g."accountId", g."expiresAt", u."active", u."revokedBefore",
          EXISTS (SELECT 1 FROM "OidcPayload" r
                   WHERE r."tenantId" = ${tenant} AND r."model" = '${REVOKED_ACCESS_TOKEN}' AND r."id" = ${jti}) AS "tokenRevoked"
     FROM "OidcPayload" g
     LEFT JOIN "User" u ON u."tenantId" = ${tenant} AND u."id" = g."accountId"
    WHERE g."tenantId" = ${tenant} AND g."model" = 'Grant' AND g."id" = ${grant}`;
}

const LIVE_GRANT = statement('live_grant', liveGrantSql('$1', '$2', '$3'));

async function liveGrant(t: TenantCtx, grantId: string, tokenId: string): Promise<LiveGrant | null> {
  return (await hotQuery<LiveGrant>(t.db, LIVE_GRANT, [t.id, grantId, tokenId]))[0] ?? null;
}
