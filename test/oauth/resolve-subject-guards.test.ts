import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Connection } from '../../src/sso/connections/manage-connections.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { RefusedToken } from '../../src/oauth/cross-app/jwt-checks.js';
import { SsoError } from '../../src/sso/sso-error.js';

/**
 * What resolve-subject.ts adds to the SSO user resolution (issue 18), each on its own: no JIT creation whatever the
 * connection allows, no group sync whatever the IdP sends, the connection's own attribute mapping, and a refusal of
 * the resolution becoming a RefusedToken (audited, answered invalid_grant). The resolution itself (linking rules,
 * inactive users) is resolve-sso-user.ts, proven by the SSO tests and end to end by test/oauth/id-jag.test.ts; here
 * it is a stand-in that records what it was asked and answers as each test says.
 */
const calls = vi.hoisted(() => ({ args: [] as unknown[][], answer: null as (() => unknown) | null }));
vi.mock('../../src/sso/users/resolve-sso-user.js', () => ({
  resolveSsoUser: async (...args: unknown[]) => {
    calls.args.push(args);
    return calls.answer!();
  },
}));
const { resolveSubject } = await import('../../src/oauth/cross-app/resolve-subject.js');

const now = new Date('2026-06-01T12:00:00Z');
const t = { id: 'ten-1' } as TenantCtx;
const conn = {
  id: 'c1',
  name: 'idp',
  kind: 'oidc',
  issuer: 'https://idp.example.com',
  secretId: null,
  updatedAt: now,
  config: { jitEnabled: true, allowedDomains: ['acme.com'], mapping: { email: ['mail'], groups: ['roles'] } },
} as unknown as Connection;

beforeEach(() => {
  calls.args = [];
  calls.answer = () => ({ id: 'usr-1' });
});

describe('resolveSubject', () => {
  it('resolves with JIT off (the connection otherwise unchanged), by sub, with the connection mapping, and no groups', async () => {
    const user = await resolveSubject(t, conn, { sub: 'idp-sub-1', mail: 'Alice@Acme.com', email: 'other@acme.com', roles: ['Admins'], groups: ['Admins'] }, now);
    expect(user).toEqual({ id: 'usr-1' });
    expect(calls.args).toHaveLength(1);
    const [tenant, passedConn, profile, at] = calls.args[0] as [TenantCtx, Connection, Record<string, unknown>, Date];
    expect(tenant).toBe(t);
    expect(at).toBe(now);
    expect(passedConn.config.jitEnabled).toBe(false);
    expect(passedConn).toEqual({ ...conn, config: { ...conn.config, jitEnabled: false } });
    expect(conn.config.jitEnabled).toBe(true); // the tenant's connection object is not changed
    expect(profile.subject).toBe('idp-sub-1');
    expect(profile.email).toBe('alice@acme.com'); // the connection's mapping (mail) before the default (email)
    expect('groups' in profile).toBe(false);
  });

  it('a refusal of the resolution is a RefusedToken naming its code', async () => {
    calls.answer = () => {
      throw new SsoError('user', 'not_provisioned', 'Ask your admin', 'no linked or matching user and JIT is off', 403, {}, conn.id);
    };
    const err = await resolveSubject(t, conn, { sub: 's' }, now).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefusedToken);
    expect((err as RefusedToken).reason).toBe('subject refused: not_provisioned');
  });

  it('any other failure propagates unchanged (a server error, not a refusal)', async () => {
    const boom = new Error('database down');
    calls.answer = () => {
      throw boom;
    };
    await expect(resolveSubject(t, conn, { sub: 's' }, now)).rejects.toBe(boom);
  });
});
