import { refreshAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import { OAuthError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { CallCredentials, CredentialsProvider, UpstreamRef } from '../tools/upstream-pool.js';
import { asFetch } from './as-fetch.js';
import { markNeedsReconnection, readTokens, saveConnection, saveRefreshed } from './connection-store.js';
import { acquireByIdJag, type IdJagFailure, type IdJagFailureKind } from './id-jag/acquire-by-id-jag.js';
import { loadOAuthClient } from './upstream-oauth-client.js';
import { UpstreamAuthRequired } from './upstream-auth-required.js';
import { connectUrl } from './upstream-oauth-urls.js';

/** Tokens are refreshed this long before they expire, so a call never goes out with one about to die. */
export const REFRESH_AHEAD_MS = 60_000;
/** A node that took the refresh lease and died: another may take it after this. */
const LEASE_MS = 30_000;
/** How long a node waits for another node's refresh of the same connection (polling the row). */
const WAIT_FOR_OTHER_MS = 15_000;
const POLL_MS = 100;
const MAX_CACHED = 20_000;
/** OAuth errors after which the refresh token will never work again (RFC 6749 §5.2): the user must reconnect. */
const PERMANENT = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client', 'invalid_scope', 'access_denied']);

interface Cached {
  creds: CallCredentials;
  expiresAt: number;
  busLoadedAt: number;
}

type ConnRow = NonNullable<Awaited<ReturnType<TenantCtx['db']['upstreamConnection']['findFirst']>>>;
type Required = (reason: 'needs_reconnection' | 'refresh_unavailable') => UpstreamAuthRequired;

const ID_JAG_REASONS: Record<IdJagFailureKind, 'idp_sign_in_required' | 'idp_refused' | 'upstream_refused' | 'refresh_unavailable'> = {
  sign_in: 'idp_sign_in_required',
  idp_refused: 'idp_refused',
  upstream_refused: 'upstream_refused',
  unavailable: 'refresh_unavailable',
};

/**
 * Per-user credentials for the pool (issue 14 §2–3): the caller's own access token for the upstream, from the vault,
 * keyed by (tenant, user, upstream) — in the cache, in the session key and in the database — so one user's call can
 * never carry another's token or session. Tokens are cached per node until shortly before expiry and dropped on
 * the bus (`upstream-connection.changed`, `user.revoked`, `tools.changed`). Refresh is single-flight per connection:
 * in a node through one shared promise, across nodes through a lease on the row (the node whose conditional UPDATE
 * took it refreshes, the others wait for the row's version to move).
 */
export class UpstreamTokens implements CredentialsProvider {
  readonly #cache = new Map<string, Cached>();
  readonly #loading = new Map<string, Promise<CallCredentials>>();
  /**
   * Bumped by every event that drops entries: a load that overlapped one (it may have read the connection before a
   * disconnect or a revocation) is answered but not cached, so it cannot put the old credentials back.
   */
  #generation = 0;

  constructor(private readonly s: Services) {
    s.bus.subscribe((e) => {
      if (['bus.resumed', 'upstream-connection.changed', 'user.revoked', 'tools.changed', 'tenant.changed'].includes(e.type)) this.#generation++;
      if (e.type === 'bus.resumed') this.#cache.clear();
      else if (e.type === 'upstream-connection.changed') this.#drop((k) => k.startsWith(`${e.tenantId}\u0000${e.upstreamId}\u0000${e.userId}`));
      else if (e.type === 'user.revoked') {
        this.#drop((k) => k.startsWith(`${e.tenantId}\u0000`) && k.endsWith(`\u0000${e.userId}`));
        s.upstreams.dropUserSessions({ userId: e.userId });
      } else if (e.type === 'tools.changed' || e.type === 'tenant.changed') this.#drop((k) => k.startsWith(`${e.tenantId}\u0000`));
    });
  }

  async forCall(t: TenantCtx, up: UpstreamRef, userId: string): Promise<CallCredentials> {
    const key = `${t.id}\u0000${up.id}\u0000${userId}`;
    const hit = this.#cache.get(key);
    if (hit && hit.expiresAt - this.s.clock.now().getTime() > REFRESH_AHEAD_MS && this.s.bus.trusts(hit.busLoadedAt)) return hit.creds;
    let loading = this.#loading.get(key);
    if (!loading) {
      const started = this.#load(t, up, userId, key).finally(() => {
        if (this.#loading.get(key) === started) this.#loading.delete(key);
      });
      loading = started;
      this.#loading.set(key, loading);
    }
    return loading;
  }

  async rejected(t: TenantCtx, up: UpstreamRef, userId: string, version: string): Promise<void> {
    const key = `${t.id}\u0000${up.id}\u0000${userId}`;
    if (this.#cache.get(key)?.creds.version === version) this.#cache.delete(key);
    // The token is dead whatever its expiry said: the next forCall refreshes it (or asks the user to reconnect).
    const [connId, v] = version.split(':');
    await t.db.upstreamConnection.updateMany({ where: { id: connId, version: Number(v) }, data: { accessExpiresAt: new Date(0) } });
  }

  #drop(match: (key: string) => boolean): void {
    for (const key of this.#cache.keys()) if (match(key)) this.#cache.delete(key);
    // A call after the event starts a load of its own instead of joining one that may have read the old row.
    for (const key of this.#loading.keys()) if (match(key)) this.#loading.delete(key);
  }

  async #load(t: TenantCtx, up: UpstreamRef, userId: string, key: string): Promise<CallCredentials> {
    const busLoadedAt = this.s.bus.now();
    const generation = this.#generation;
    let conn = await t.db.upstreamConnection.findFirst({ where: { upstreamId: up.id, userId }, include: { upstream: { select: { name: true } } } });
    const name = conn?.upstream.name ?? (await t.db.upstream.findFirst({ where: { id: up.id }, select: { name: true } }))?.name ?? up.id;
    const required = (reason: 'not_connected' | 'needs_reconnection' | 'refresh_unavailable') => new UpstreamAuthRequired(reason, name, connectUrl(this.s.config.publicUrl, t, name));
    if (up.authMode === 'id-jag') {
      // No connect step and no refresh token: a missing or expiring token is obtained again by ID-JAG.
      if (!conn || conn.status !== 'connected' || this.#expiresSoon(conn)) {
        const idJagRequired = (f: IdJagFailure) => new UpstreamAuthRequired(ID_JAG_REASONS[f.kind], name, `${this.s.config.publicUrl}/t/${t.slug}/login`, f.description ? `${f.code}: ${f.description}` : f.code);
        conn = { ...(await this.#acquire(t, up.id, userId, conn, required, idJagRequired)), upstream: { name } };
      }
    } else {
      if (!conn) throw required('not_connected');
      if (conn.status !== 'connected') throw required('needs_reconnection');
      if (this.#expiresSoon(conn)) conn = { ...(await this.#refresh(t, conn, required)), upstream: conn.upstream };
    }
    const tokens = await readTokens(this.s, t, conn.secretId);
    const creds: CallCredentials = {
      key: `${up.id}\u0000${userId}`,
      version: `${conn.id}:${conn.version}`,
      headers: { Authorization: `Bearer ${tokens.access_token}` },
    };
    if (generation !== this.#generation) return creds;
    if (this.#cache.size >= MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(key, { creds, expiresAt: conn.accessExpiresAt?.getTime() ?? Number.POSITIVE_INFINITY, busLoadedAt });
    return creds;
  }

  #expiresSoon(conn: ConnRow): boolean {
    return conn.accessExpiresAt !== null && conn.accessExpiresAt.getTime() - this.s.clock.now().getTime() <= REFRESH_AHEAD_MS;
  }

  /** The cross-node single flight: whoever's conditional UPDATE sets the lease renews this connection. */
  async #takeLease(t: TenantCtx, conn: ConnRow): Promise<boolean> {
    const now = this.s.clock.now();
    const { count } = await t.db.upstreamConnection.updateMany({
      where: { id: conn.id, version: conn.version, status: 'connected', OR: [{ refreshLeaseUntil: null }, { refreshLeaseUntil: { lt: now } }] },
      data: { refreshLeaseUntil: new Date(now.getTime() + LEASE_MS) },
    });
    return count === 1;
  }

  /**
   * `id-jag` upstreams (decision 0027): a new token by ID-JAG, stored like a connection's (vault, per user). Single
   * flight: per node through `#loading`; across nodes through the row's lease once the row exists (the very first
   * acquisitions of two nodes may both run: the second row insert fails and its token is dropped).
   */
  async #acquire(t: TenantCtx, upstreamId: string, userId: string, conn: ConnRow | null, required: Required, idJagRequired: (f: IdJagFailure) => UpstreamAuthRequired): Promise<ConnRow> {
    if (conn && !(await this.#takeLease(t, conn))) return this.#awaitOther(t, conn, required);
    const release = () => (conn ? t.db.upstreamConnection.updateMany({ where: { id: conn.id, version: conn.version }, data: { refreshLeaseUntil: null } }) : null);
    let tokens;
    try {
      tokens = await acquireByIdJag(this.s, t, upstreamId, userId);
    } catch (err) {
      await release();
      throw idJagRequired(err as IdJagFailure);
    }
    if (conn) {
      if (!(await saveRefreshed(this.s, t, conn, tokens))) throw required('refresh_unavailable');
      await this.s.bus.publish({ type: 'upstream-connection.changed', tenantId: t.id, userId, upstreamId });
    } else {
      await saveConnection(this.s, t, upstreamId, userId, tokens).catch(async (err: unknown) => {
        if (!(await t.db.upstreamConnection.findFirst({ where: { upstreamId, userId } }))) throw err;
      });
    }
    const row = await t.db.upstreamConnection.findFirst({ where: { upstreamId, userId } });
    if (!row) throw required('refresh_unavailable');
    return row as ConnRow;
  }

  /** Refreshes (or waits for another node's refresh of) this connection; returns the row as it is afterwards. */
  async #refresh(t: TenantCtx, conn: ConnRow, required: Required): Promise<ConnRow> {
    if (!(await this.#takeLease(t, conn))) return this.#awaitOther(t, conn, required);
    const tokens = await readTokens(this.s, t, conn.secretId);
    if (!tokens.refresh_token) {
      await markNeedsReconnection(this.s, t, conn, 'The access token expired and the upstream gave no refresh token');
      throw required('needs_reconnection');
    }
    let refreshed;
    try {
      const client = await loadOAuthClient(this.s, t, conn.upstreamId);
      refreshed = await refreshAuthorization(client.asUrl, {
        metadata: client.metadata,
        clientInformation: client.clientInformation,
        refreshToken: tokens.refresh_token,
        resource: new URL(client.resource),
        fetchFn: asFetch(this.s.egress),
      });
    } catch (err) {
      const code = err instanceof OAuthError ? err.errorCode : undefined;
      if (code && PERMANENT.has(code)) {
        await markNeedsReconnection(this.s, t, conn, `The upstream refused to renew the connection (${code})`);
        await this.#audit(t, conn, 'failure', code);
        throw required('needs_reconnection');
      }
      // Unreachable, 5xx, timeout: the refresh token may still be good; release the lease and let the user retry.
      await t.db.upstreamConnection.updateMany({ where: { id: conn.id, version: conn.version }, data: { refreshLeaseUntil: null } });
      this.s.logger.warn({ tenantId: t.id, upstreamId: conn.upstreamId, err: String(err).slice(0, 200) }, 'upstream token refresh failed; will retry');
      throw required('refresh_unavailable');
    }
    if (!(await saveRefreshed(this.s, t, conn, refreshed))) throw required('refresh_unavailable');
    await this.s.bus.publish({ type: 'upstream-connection.changed', tenantId: t.id, userId: conn.userId, upstreamId: conn.upstreamId });
    await this.#audit(t, conn, 'success');
    return (await t.db.upstreamConnection.findFirst({ where: { id: conn.id } }))! as ConnRow;
  }

  /** Another node (or an earlier request) holds the lease: wait until the row's version or status moves. */
  async #awaitOther(t: TenantCtx, conn: ConnRow, required: Required): Promise<ConnRow> {
    const deadline = Date.now() + WAIT_FOR_OTHER_MS;
    for (;;) {
      const row = await t.db.upstreamConnection.findFirst({ where: { id: conn.id } });
      if (!row) throw required('needs_reconnection');
      if (row.status !== 'connected') throw required('needs_reconnection');
      if (row.version !== conn.version && !this.#expiresSoon(row as ConnRow)) return row as ConnRow;
      if (row.version === conn.version && row.refreshLeaseUntil === null && !this.#expiresSoon(row as ConnRow)) return row as ConnRow;
      // The other refresh failed transiently (lease released, token still old): the user may retry.
      if (row.version === conn.version && row.refreshLeaseUntil === null) throw required('refresh_unavailable');
      if (Date.now() > deadline) throw required('refresh_unavailable');
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async #audit(t: TenantCtx, conn: ConnRow, outcome: 'success' | 'failure', error?: string): Promise<void> {
    await this.s.audit.record(t, {
      actor: { kind: 'system' },
      action: 'upstream.connection.refresh',
      target: { kind: 'upstream-connection', id: conn.id },
      outcome,
      detail: { upstreamId: conn.upstreamId, userId: conn.userId, ...(error && { error }) },
    });
  }
}
