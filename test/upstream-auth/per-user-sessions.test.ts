import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { UpstreamPool, type CallCredentials, type CredentialsProvider, type UpstreamRef } from '../../src/tools/upstream-pool.js';
import type { Vault } from '../../src/vault/vault.js';
import { startUpstream, type Upstream } from '../mcp/support.js';
import { loopbackEgress } from '../support/loopback-egress.js';

/** A provider handing each user a token of their own (what src/upstream-auth does from the vault). */
class Tokens implements CredentialsProvider {
  rejectedVersions: string[] = [];
  generation = new Map<string, number>();
  async forCall(_t: TenantCtx, up: UpstreamRef, userId: string): Promise<CallCredentials> {
    const g = this.generation.get(userId) ?? 1;
    return { key: `${up.id}\u0000${userId}`, version: `c_${userId}:${g}`, headers: { Authorization: `Bearer token-of-${userId}-${g}` } };
  }
  async rejected(_t: TenantCtx, _up: UpstreamRef, _userId: string, version: string) {
    this.rejectedVersions.push(version);
  }
}

const tenant = { id: 'ten_sessions' } as TenantCtx;

describe('UpstreamPool per-user sessions (issue 14 §3)', () => {
  let upstream: Upstream;
  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterAll(() => upstream?.close());

  const setUp = () => {
    const pool = new UpstreamPool({} as Vault, undefined, loopbackEgress);
    const tokens = new Tokens();
    pool.credentials = tokens;
    const up: UpstreamRef = { id: `up_${Math.random().toString(36).slice(2)}`, url: upstream.url, headersSecretId: null, updatedAt: new Date(0), authMode: 'oauth-per-user' };
    const call = (userId: string) => pool.callTool(tenant, up, 'echo', { text: userId }, new AbortController().signal, undefined, userId);
    return { pool, tokens, up, call };
  };

  /** Session id → the Authorization headers seen on it. */
  const headersBySession = () => {
    const m = new Map<string, Set<string>>();
    for (const h of upstream.seen) {
      const sid = h['mcp-session-id'];
      if (typeof sid === 'string' && h.authorization) m.set(sid, (m.get(sid) ?? new Set()).add(h.authorization));
    }
    return m;
  };

  it('gives every user a session of their own, carrying only their own token, also after their token changes', async () => {
    const { pool, tokens, call } = setUp();
    try {
      await Promise.all(['u1', 'u2', 'u3', 'u1', 'u2', 'u3'].map((u) => call(u)));
      expect(pool.userSessionCount).toBe(3);
      tokens.generation.set('u2', 2); // u2 refreshed: a new session with the new token
      await Promise.all(['u1', 'u2', 'u3'].map((u) => call(u)));
      for (const auths of headersBySession().values()) expect(auths.size).toBe(1);
      expect(pool.userSessionCount).toBe(3);
    } finally {
      await pool.close();
    }
  });

  it('a per-user upstream without a user is refused, never sent on a shared session', async () => {
    const { pool, up } = setUp();
    try {
      await expect(pool.callTool(tenant, up, 'echo', { text: 'x' }, new AbortController().signal)).rejects.toThrow(/without a user/);
    } finally {
      await pool.close();
    }
  });

  it('bounds per-user sessions by an LRU and closes idle ones', async () => {
    const { pool, call } = setUp();
    try {
      pool.maxUserSessions = 2;
      await call('a');
      await call('b');
      await call('a'); // a is now the most recently used
      await call('c'); // b goes
      expect(pool.userSessionCount).toBe(2);
      pool.userSessionIdleMs = -1; // every open session counts as idle now (no waiting on a clock)
      await call('d'); // everything idle is closed when a new session opens
      expect(pool.userSessionCount).toBe(1);
      pool.dropUserSessions({ userId: 'd' });
      expect(pool.userSessionCount).toBe(0);
    } finally {
      await pool.close();
    }
  });
});
