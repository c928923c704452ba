import type { NextFunction, Request, Response } from 'express';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Services } from '../../src/services.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { csrfTokenForSessionToken } from '../../src/sessions/csrf.js';

/**
 * The console's gate and its state-change checks, each guard on its own (issue 18). The session store and the admin
 * lookup are stand-ins (what they answer is set per test); the cookie name and the CSRF HMAC are the real ones. The
 * store's tenant scoping and isTenantAdmin are proven by test/admin/admin-api.test.ts and the session tests.
 */
const state = vi.hoisted(() => ({ session: null as Record<string, unknown> | null, admin: false, adminAsked: [] as unknown[][] }));
vi.mock('../../src/sessions/session-cookie.js', async (orig) => ({
  ...(await orig<object>()),
  currentSession: async () => state.session,
}));
vi.mock('../../src/sso/admin/tenant-admins.js', () => ({
  isTenantAdmin: async (...args: unknown[]) => {
    state.adminAsked.push(args);
    return state.admin;
  },
}));
const { ADMIN_IDLE_MS, REAUTH_WINDOW_MS, auditRefusal, authIsFresh, authTimeOf, checkAdmin, stateChangeAllowed } = await import('../../src/admin/http/admin-session.js');
const { adminOf, requireAdminApi } = await import('../../src/admin/http/require-admin.js');

const NOW = new Date('2026-06-01T12:00:00Z');
const t = { id: 'ten-1', slug: 'acme' } as TenantCtx;
const COOKIE = 'session-secret-value';
const CSRF = csrfTokenForSessionToken(COOKIE);
let revoked: unknown[][];
let recorded: unknown[][];
const s = {
  clock: { now: () => NOW },
  config: { publicUrl: 'http://sso.test' },
  sessions: { revoke: async (...a: unknown[]) => void revoked.push(a) },
  audit: { record: async (...a: unknown[]) => void recorded.push(a) },
} as unknown as Services;

function req(headers: Record<string, string> = {}, body?: unknown, id?: string): Request {
  const h: Record<string, string> = { cookie: `sb_session_ten-1=${COOKIE}`, 'user-agent': 'UA/1', ...headers };
  return { headers: h, get: (n: string) => h[n.toLowerCase()], ip: '10.0.0.1', id, body } as unknown as Request;
}
const session = (over: Record<string, unknown> = {}) => ({
  id: 'ses-1',
  userId: 'usr-1',
  lastSeenAt: new Date(NOW.getTime() - 1000),
  data: null,
  user: { displayName: 'Alice A', email: 'alice@acme.com', userName: 'alice' },
  ...over,
});

beforeEach(() => {
  state.session = session();
  state.admin = true;
  state.adminAsked = [];
  revoked = [];
  recorded = [];
});

describe('checkAdmin', () => {
  it('no session of this tenant: signed out, and nobody is asked whether they are admin', async () => {
    state.session = null;
    expect(await checkAdmin(s, t, req())).toEqual({ ok: false, reason: 'signed-out' });
    expect(state.adminAsked).toEqual([]);
  });

  it('idle: exactly the idle limit still counts; one millisecond more ends the session', async () => {
    state.session = session({ lastSeenAt: new Date(NOW.getTime() - ADMIN_IDLE_MS) });
    expect((await checkAdmin(s, t, req())).ok).toBe(true);
    expect(revoked).toEqual([]);
    state.session = session({ lastSeenAt: new Date(NOW.getTime() - ADMIN_IDLE_MS - 1) });
    expect(await checkAdmin(s, t, req())).toEqual({ ok: false, reason: 'idle' });
    expect(revoked).toEqual([[t, 'ses-1']]);
    expect(ADMIN_IDLE_MS).toBe(15 * 60_000);
  });

  it('a live session of a user who is not an admin: forbidden (asked for this tenant and this user)', async () => {
    state.admin = false;
    expect(await checkAdmin(s, t, req())).toEqual({ ok: false, reason: 'forbidden' });
    expect(state.adminAsked).toEqual([[t, 'usr-1']]);
  });

  it('an admin: the session, a display name, the session’s CSRF token and the actor', async () => {
    const check = await checkAdmin(s, t, req({}, undefined, 'req-7'));
    if (!check.ok) throw new Error('refused');
    expect(check.admin.session).toBe(state.session);
    expect(check.admin.name).toBe('Alice A');
    expect(check.admin.csrf).toBe(CSRF);
    expect(check.admin.actor).toEqual({ kind: 'user', id: 'usr-1', request: { ip: '10.0.0.1', userAgent: 'UA/1', requestId: 'req-7' } });
    state.session = session({ user: { displayName: null, email: 'alice@acme.com', userName: 'alice' } });
    expect(((await checkAdmin(s, t, req())) as { admin: { name: string; actor: { request: { requestId: string } } } }).admin).toMatchObject({ name: 'alice@acme.com', actor: { request: { requestId: '' } } });
    state.session = session({ user: { displayName: null, email: null, userName: 'alice' } });
    expect(((await checkAdmin(s, t, req())) as { admin: { name: string } }).admin.name).toBe('alice');
  });
});

describe('re-authentication freshness', () => {
  const at = (ms: number) => session({ data: { authTime: new Date(NOW.getTime() - ms).toISOString() } }) as never;
  it('authTimeOf: an ISO string only', () => {
    expect(authTimeOf(at(5000))?.getTime()).toBe(NOW.getTime() - 5000);
    for (const data of [null, {}, { authTime: 'not a date' }, { authTime: NOW.getTime() }]) expect(authTimeOf(session({ data }) as never)).toBeNull();
  });
  it('authIsFresh: within the window inclusive; a session without a sign-in time is never fresh', () => {
    expect(authIsFresh(s, at(REAUTH_WINDOW_MS))).toBe(true);
    expect(authIsFresh(s, at(REAUTH_WINDOW_MS + 1))).toBe(false);
    expect(authIsFresh(s, session() as never)).toBe(false);
    expect(REAUTH_WINDOW_MS).toBe(10 * 60_000);
  });
});

describe('stateChangeAllowed', () => {
  it('the session’s CSRF token, from the header or the form field', () => {
    expect(stateChangeAllowed(s, t, req({ 'x-csrf-token': CSRF }))).toBe(true);
    expect(stateChangeAllowed(s, t, req({}, { csrf: CSRF }))).toBe(true);
    expect(stateChangeAllowed(s, t, req({}, { csrf: 'x' }))).toBe(false);
    expect(stateChangeAllowed(s, t, req())).toBe(false);
    // The header, when present, is the one that counts.
    expect(stateChangeAllowed(s, t, req({ 'x-csrf-token': 'wrong' }, { csrf: CSRF }))).toBe(false);
  });
  it('a foreign Origin is refused even with the right token; our own origin passes', () => {
    expect(stateChangeAllowed(s, t, req({ origin: 'http://evil.test', 'x-csrf-token': CSRF }))).toBe(false);
    expect(stateChangeAllowed(s, t, req({ origin: 'http://sso.test', 'x-csrf-token': CSRF }))).toBe(true);
    expect(stateChangeAllowed(s, t, req({ origin: 'http://sso.test', 'x-csrf-token': 'wrong' }))).toBe(false);
  });
});

describe('auditRefusal', () => {
  it('records a denied action with the user, or the system when nobody is signed in', async () => {
    const res = { locals: { requestId: 'rid-9' } } as unknown as Response;
    await auditRefusal(s, t, req({}, undefined, 'req-1'), res, 'admin.x', 'bad csrf', 'usr-1');
    await auditRefusal(s, t, req(), res, 'admin.y', 'stale sign-in');
    const noIds = { locals: {} } as unknown as Response;
    await auditRefusal(s, t, req(), noIds, 'admin.z', 'r');
    expect(recorded).toEqual([
      [t, { actor: { kind: 'user', id: 'usr-1' }, action: 'admin.x', outcome: 'denied', request: { ip: '10.0.0.1', userAgent: 'UA/1', requestId: 'req-1' }, detail: { reason: 'bad csrf' } }],
      [t, { actor: { kind: 'system' }, action: 'admin.y', outcome: 'denied', request: { ip: '10.0.0.1', userAgent: 'UA/1', requestId: 'rid-9' }, detail: { reason: 'stale sign-in' } }],
      [t, { actor: { kind: 'system' }, action: 'admin.z', outcome: 'denied', request: { ip: '10.0.0.1', userAgent: 'UA/1', requestId: '' }, detail: { reason: 'r' } }],
    ]);
  });
});

describe('requireAdminApi', () => {
  async function call() {
    const out: { status?: number; body?: unknown; headers: Record<string, string>; next: boolean; locals: Record<string, unknown> } = { headers: {}, next: false, locals: { tenant: t } };
    const res = {
      locals: out.locals,
      set: (k: string, v: string) => void (out.headers[k] = v),
      status(code: number) {
        out.status = code;
        return this;
      },
      json: (b: unknown) => void (out.body = b),
    } as unknown as Response;
    await requireAdminApi(s)(req(), res, (() => void (out.next = true)) as NextFunction);
    return { ...out, res };
  }
  it('an admin passes, with the admin on res.locals; nothing is cached', async () => {
    const r = await call();
    expect(r.next).toBe(true);
    expect(r.status).toBeUndefined();
    expect(r.headers['Cache-Control']).toBe('no-store');
    expect(adminOf(r.res).name).toBe('Alice A');
    expect(r.locals.adminId).toBe('usr-1');
  });
  it('not an admin: 403, the handler never runs', async () => {
    state.admin = false;
    const r = await call();
    expect([r.status, r.body, r.next, r.headers['Cache-Control']]).toEqual([403, { error: 'forbidden', message: 'Tenant admins only' }, false, 'no-store']);
    expect(r.locals.admin).toBeUndefined();
  });
  it('signed out or idle: 401 with the matching message', async () => {
    state.session = null;
    const r = await call();
    expect([r.status, r.body, r.next, r.headers['Cache-Control']]).toEqual([401, { error: 'unauthorized', message: 'Sign in first' }, false, 'no-store']);
    state.session = session({ lastSeenAt: new Date(NOW.getTime() - ADMIN_IDLE_MS - 1) });
    const idle = await call();
    expect([idle.status, idle.body, idle.next]).toEqual([401, { error: 'unauthorized', message: 'Signed out after inactivity: sign in again' }, false]);
  });
});
