import { randomBytes } from 'node:crypto';
import { importJWK, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { issuerUrl } from '../../src/oauth/oauth-urls.js';
import { loadSigningKeys, rotateSigningKeys } from '../../src/oauth/signing-keys.js';
import { REVOKED_ACCESS_TOKEN } from '../../src/oauth/revoke-access-token.js';
import { JwtAccessTokenVerifier } from '../../src/oauth/verify-access-token.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Each guard of the RFC 9068 access-token verifier proven on its own (issue 18): the tokens here are minted directly
 * with the tenant's signing key, so every other check passes and only the guard under test stands between the token
 * and access. Every test uses a fresh verifier (an empty cache) and its own tenants and users.
 */
describe.each(testDbKinds)('access-token verifier guards (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  const verifier = () => new JwtAccessTokenVerifier({ config: app.services.config, vault: app.services.vault, bus: app.services.bus, clock: app.clock }, app.services.bus);
  const nowS = () => Math.floor(app.clock.now().getTime() / 1000);
  const mcp = (t: TenantCtx) => `${app.url}/t/${t.slug}/mcp`;

  async function sign(t: TenantCtx, claims: Record<string, unknown>, opts: { key?: JWK; typ?: string } = {}) {
    const jwk = opts.key ?? (await loadSigningKeys(app.services, t)).keys[0]!;
    const iat = nowS() - 10;
    return new SignJWT({ iss: issuerUrl(app.url, t), aud: mcp(t), iat, exp: iat + 600, jti: randomBytes(8).toString('hex'), tid: t.id, ...claims })
      .setProtectedHeader({ alg: 'RS256', typ: opts.typ ?? 'at+jwt', kid: jwk.kid })
      .sign(await importJWK(jwk, 'RS256'));
  }

  async function user(t: TenantCtx, data: { active?: boolean; revokedBefore?: Date } = {}) {
    const email = `${randomBytes(4).toString('hex')}@example.com`;
    return t.db.user.create({ data: { id: newId('usr'), tenantId: t.id, userName: email, userNameKey: email, email, source: 'manual', ...data } });
  }
  async function grant(t: TenantCtx, accountId: string, expiresAt: Date | null = new Date(app.clock.now().getTime() + 3600_000)) {
    const id = newId('grt');
    await t.db.oidcPayload.create({ data: { tenantId: t.id, model: 'Grant', id, payload: {}, accountId, expiresAt } });
    return id;
  }
  async function client(t: TenantCtx) {
    const id = newId('cli');
    await t.db.oidcPayload.create({ data: { tenantId: t.id, model: 'Client', id, payload: {} } });
    return id;
  }
  /** A user, their grant and a token that verifies: the starting point every refusal differs from in one respect. */
  async function userToken(t: TenantCtx, claims: Record<string, unknown> = {}) {
    const u = await user(t);
    const gid = await grant(t, u.id);
    const token = await sign(t, { sub: u.id, client_id: 'c1', gid, scope: 'mcp:tools offline_access', ...claims });
    return { u, gid, token };
  }

  it('accepts a valid user token and reports exactly what it proves', async () => {
    const t = await app.createTenant();
    const { u, gid, token } = await userToken(t, { scope: ' mcp:tools  openid ', jti: 'jti-of-this-token' });
    const info = await verifier().verify(t, token, mcp(t));
    expect(info).toEqual({
      tenantId: t.id,
      userId: u.id,
      clientId: 'c1',
      scopes: ['mcp:tools', 'openid'],
      audience: mcp(t),
      grantId: gid,
      tokenId: 'jti-of-this-token',
      issuedAt: new Date((nowS() - 10) * 1000),
      expiresAt: new Date((nowS() + 590) * 1000),
    });
  });

  it('refuses a token whose jti is on its own tenant’s deny-list, not one whose jti another tenant denied', async () => {
    const [a, b] = [await app.createTenant(), await app.createTenant()];
    const deny = (t: TenantCtx, id: string) => t.db.oidcPayload.create({ data: { tenantId: t.id, model: REVOKED_ACCESS_TOKEN, id, payload: {}, expiresAt: new Date(app.clock.now().getTime() + 3600_000) } });
    const mine = await userToken(a, { jti: 'jti-a' });
    const same = await userToken(a, { jti: 'jti-b' });
    await deny(a, 'jti-a');
    await deny(b, 'jti-b');
    expect(await verifier().verify(a, mine.token, mcp(a))).toBeNull();
    expect(await verifier().verify(a, same.token, mcp(a))).not.toBeNull();
    // Client credentials: the same list, read with the client.
    const cid = await client(a);
    const machine = (jti: string) => sign(a, { sub: cid, client_id: cid, jti });
    expect(await verifier().verify(a, await machine('jti-a'), mcp(a))).toBeNull();
    expect(await verifier().verify(a, await machine('jti-b'), mcp(a))).not.toBeNull();
    // A jti that is not a string names no token that could be revoked: refused.
    expect(await verifier().verify(a, (await userToken(a, { jti: 42 })).token, mcp(a))).toBeNull();
  });

  it('a token without a scope claim holds no scopes', async () => {
    const t = await app.createTenant();
    const { token } = await userToken(t, { scope: undefined });
    expect((await verifier().verify(t, token, mcp(t)))?.scopes).toEqual([]);
  });

  it('refuses another tenant’s token presented to this tenant, fresh and from the cache', async () => {
    const [a, b] = [await app.createTenant(), await app.createTenant()];
    const { token } = await userToken(a);
    const v = verifier();
    expect(await v.verify(b, token, mcp(a))).toBeNull(); // fresh: another tenant's issuer and keys
    expect(await v.verify(a, token, mcp(a))).not.toBeNull(); // now cached
    expect(await v.verify(b, token, mcp(a))).toBeNull(); // cache hit: only the tenant re-check refuses
    expect(await v.verify(b, token, mcp(b))).toBeNull();
  });

  it('refuses a cached token presented for another resource of the same tenant', async () => {
    const t = await app.createTenant();
    const { token } = await userToken(t);
    const v = verifier();
    expect(await v.verify(t, token, mcp(t))).not.toBeNull();
    expect(await v.verify(t, token, `${app.url}/t/${t.slug}/scim/v2`)).toBeNull();
    expect(await v.verify(t, token, mcp(t))).not.toBeNull();
  });

  it('refuses a cached token once it expired by the application clock (exp is exclusive)', async () => {
    const t = await app.createTenant();
    const { token } = await userToken(t);
    const v = verifier();
    const info = await v.verify(t, token, mcp(t));
    expect(info).not.toBeNull();
    app.clock.set(new Date(info!.expiresAt.getTime() - 1));
    try {
      expect(await v.verify(t, token, mcp(t))).not.toBeNull();
      app.clock.set(info!.expiresAt);
      expect(await v.verify(t, token, mcp(t))).toBeNull();
    } finally {
      app.clock.set(new Date());
    }
  });

  it('refuses a token whose tid claim names another tenant (issuer, key and audience all this tenant’s)', async () => {
    const t = await app.createTenant();
    const { token } = await userToken(t, { tid: 'another-tenant' });
    expect(await verifier().verify(t, token, mcp(t))).toBeNull();
    expect(await verifier().verify(t, (await userToken(t, { tid: undefined })).token, mcp(t))).toBeNull();
  });

  it('refuses a token minted for several audiences, even when this resource is one of them (one token, one resource)', async () => {
    const t = await app.createTenant();
    expect(await verifier().verify(t, (await userToken(t, { aud: [mcp(t), `${app.url}/t/${t.slug}/scim/v2`] })).token, mcp(t))).toBeNull();
    expect(await verifier().verify(t, (await userToken(t, { aud: [mcp(t)] })).token, mcp(t))).not.toBeNull();
  });

  it('refuses a signed token of the wrong type, another issuer, or without a required claim', async () => {
    const t = await app.createTenant();
    expect(await verifier().verify(t, (await userToken(t, { typ: undefined })).token, mcp(t))).not.toBeNull();
    const u = await user(t);
    const gid = await grant(t, u.id);
    const base = { sub: u.id, client_id: 'c1', gid };
    expect(await verifier().verify(t, await sign(t, base, { typ: 'JWT' }), mcp(t))).toBeNull();
    expect(await verifier().verify(t, await sign(t, { ...base, iss: `${app.url}/t/other` }), mcp(t))).toBeNull();
    for (const claim of ['jti', 'client_id', 'iat', 'exp']) {
      expect(await verifier().verify(t, await sign(t, { ...base, [claim]: undefined }), mcp(t)), claim).toBeNull();
    }
  });

  it('refuses a token whose signature does not verify, and strings that are not a compact JWS', async () => {
    const t = await app.createTenant();
    const { token } = await userToken(t);
    const [h, p, s] = token.split('.');
    const v = verifier();
    expect(await v.verify(t, `${h}.${p}.${s!.slice(0, -4)}AAAA`, mcp(t))).toBeNull();
    for (const junk of ['', 'x', `${h}.${p}`, `${token}.x.y`]) expect(await v.verify(t, junk, mcp(t))).toBeNull();
  });

  it('refuses an oversized token before any work, however valid (8 KiB bound)', async () => {
    const t = await app.createTenant();
    const { u, gid } = await userToken(t);
    const v = verifier();
    const at = async (length: number) => {
      const claims = (n: number) => ({ sub: u.id, client_id: 'c1', gid, pad: 'x'.repeat(n) });
      // base64url: 3 bytes of JSON are 4 characters; scan around the estimate.
      const estimate = Math.floor(((length - (await sign(t, claims(0))).length) * 3) / 4);
      for (let n = estimate - 8; n < estimate + 8; n++) {
        const token = await sign(t, claims(n));
        if (token.length === length) return token;
      }
      throw new Error(`no token of length ${length}`);
    };
    expect(await v.verify(t, await at(8192), mcp(t))).not.toBeNull();
    expect(await v.verify(t, await at(8193), mcp(t))).toBeNull();
  });

  describe('user tokens: live state of the grant and the user', () => {
    it('refuses a token whose grant is gone (revoked)', async () => {
      const t = await app.createTenant();
      const { token, gid } = await userToken(t);
      await t.db.oidcPayload.deleteMany({ where: { model: 'Grant', id: gid } });
      expect(await verifier().verify(t, token, mcp(t))).toBeNull();
    });

    it('refuses a token whose grant row is another kind of record with the same id', async () => {
      const t = await app.createTenant();
      const u = await user(t);
      const id = newId('grt');
      await t.db.oidcPayload.create({ data: { tenantId: t.id, model: 'Session', id, payload: {}, accountId: u.id } });
      expect(await verifier().verify(t, await sign(t, { sub: u.id, client_id: 'c1', gid: id }), mcp(t))).toBeNull();
    });

    it('refuses a token whose grant expired (exclusive), accepts a grant without expiry', async () => {
      const t = await app.createTenant();
      const u = await user(t);
      const now = app.clock.now().getTime();
      const tokenFor = async (expiresAt: Date | null) => sign(t, { sub: u.id, client_id: 'c1', gid: await grant(t, u.id, expiresAt) });
      expect(await verifier().verify(t, await tokenFor(new Date(now)), mcp(t))).toBeNull();
      expect(await verifier().verify(t, await tokenFor(new Date(now - 1000)), mcp(t))).toBeNull();
      expect(await verifier().verify(t, await tokenFor(new Date(now + 1000)), mcp(t))).not.toBeNull();
      expect(await verifier().verify(t, await tokenFor(null), mcp(t))).not.toBeNull();
    });

    it('refuses a token whose grant belongs to another user of the tenant', async () => {
      const t = await app.createTenant();
      const [alice, bob] = [await user(t), await user(t)];
      const gid = await grant(t, alice.id);
      expect(await verifier().verify(t, await sign(t, { sub: bob.id, client_id: 'c1', gid }), mcp(t))).toBeNull();
    });

    it('refuses another tenant’s grant id, even for a user id that exists there', async () => {
      const [a, b] = [await app.createTenant(), await app.createTenant()];
      const u = await user(b);
      const gid = await grant(b, u.id);
      expect(await verifier().verify(a, await sign(a, { sub: u.id, client_id: 'c1', gid }), mcp(a))).toBeNull();
    });

    it('refuses a grant of this tenant that names another tenant’s user (the user is read in this tenant only)', async () => {
      const [a, b] = [await app.createTenant(), await app.createTenant()];
      const theirs = await user(b);
      const gid = await grant(a, theirs.id);
      expect(await verifier().verify(a, await sign(a, { sub: theirs.id, client_id: 'c1', gid }), mcp(a))).toBeNull();
    });

    it('onSignedSubject: told the user once the signature holds, before the live state decides; never for a forged, foreign or cached token', async () => {
      const [t, other] = [await app.createTenant(), await app.createTenant()];
      const { u, token } = await userToken(t);
      const seen: string[] = [];
      const hooks = { onSignedSubject: (id: string) => seen.push(id) };
      const v = verifier();
      const [h, p, sig] = token.split('.');
      expect(await v.verify(t, `${h}.${p}.${sig!.slice(0, -4)}AAAA`, mcp(t), hooks)).toBeNull();
      expect(await v.verify(other, token, mcp(other), hooks)).toBeNull();
      expect(seen).toEqual([]);
      expect(await v.verify(t, token, mcp(t), hooks)).not.toBeNull();
      expect(await v.verify(t, token, mcp(t), hooks)).not.toBeNull(); // cached: no second call
      expect(seen).toEqual([u.id]);
      // Called before the live state is read: a deactivated user's token is refused after the hook ran.
      const gone = await user(t, { active: false });
      expect(await v.verify(t, await sign(t, { sub: gone.id, client_id: 'c1', gid: await grant(t, gone.id) }), mcp(t), hooks)).toBeNull();
      expect(seen).toEqual([u.id, gone.id]);
      // A client acting as itself names no user.
      const cid = await client(t);
      expect(await v.verify(t, await sign(t, { sub: cid, client_id: cid }), mcp(t), hooks)).not.toBeNull();
      expect(seen).toEqual([u.id, gone.id]);
      // Hooks without this one are no hooks.
      expect(await verifier().verify(t, token, mcp(t), {})).not.toBeNull();
    });

    it('looks the user up by the token’s sub: a deactivated user is refused while another user of the tenant is active', async () => {
      const t = await app.createTenant();
      await user(t); // an active colleague, created first
      const gone = await user(t, { active: false });
      expect(await verifier().verify(t, await sign(t, { sub: gone.id, client_id: 'c1', gid: await grant(t, gone.id) }), mcp(t))).toBeNull();
    });

    it('refuses a token of a user who no longer exists (grant left behind)', async () => {
      const t = await app.createTenant();
      await user(t);
      const gid = await grant(t, 'usr_deleted');
      expect(await verifier().verify(t, await sign(t, { sub: 'usr_deleted', client_id: 'c1', gid }), mcp(t))).toBeNull();
    });

    it('active alone: a deactivated user with no revocation instant is refused', async () => {
      const t = await app.createTenant();
      const u = await user(t, { active: false });
      expect(u.revokedBefore).toBeNull();
      expect(await verifier().verify(t, await sign(t, { sub: u.id, client_id: 'c1', gid: await grant(t, u.id) }), mcp(t))).toBeNull();
    });

    it('revokedBefore alone: an active user revoked at or after the token’s iat is refused, one revoked before it is not', async () => {
      const t = await app.createTenant();
      const iat = (nowS() - 10) * 1000;
      for (const [revokedBefore, ok] of [
        [new Date(iat + 1000), false],
        [new Date(iat), false],
        [new Date(iat - 1), true],
      ] as const) {
        const u = await user(t, { revokedBefore });
        expect(u.active).toBe(true);
        const info = await verifier().verify(t, await sign(t, { sub: u.id, client_id: 'c1', gid: await grant(t, u.id) }), mcp(t));
        expect(info !== null, String(revokedBefore.getTime() - iat)).toBe(ok);
      }
    });
  });

  describe('client-credentials tokens (no grant)', () => {
    it('accepts a token of a registered client acting as itself, with no user', async () => {
      const t = await app.createTenant();
      const id = await client(t);
      const info = await verifier().verify(t, await sign(t, { sub: id, client_id: id, scope: 'scim' }), mcp(t));
      expect(info).toMatchObject({ userId: null, grantId: null, clientId: id, scopes: ['scim'] });
    });

    it('refuses a token of a client that is no longer registered', async () => {
      const t = await app.createTenant();
      expect(await verifier().verify(t, await sign(t, { sub: 'cli_gone', client_id: 'cli_gone' }), mcp(t))).toBeNull();
    });

    it('refuses an unregistered client id where other clients exist, and a grant whose id is the client id', async () => {
      const t = await app.createTenant();
      await client(t); // another, registered client
      const u = await user(t);
      const gid = await grant(t, u.id);
      expect(await verifier().verify(t, await sign(t, { sub: 'cli_other', client_id: 'cli_other' }), mcp(t))).toBeNull();
      // Only a Client row registers a client: a Grant row with that id does not.
      expect(await verifier().verify(t, await sign(t, { sub: gid, client_id: gid }), mcp(t))).toBeNull();
    });

    it('refuses another tenant’s client id', async () => {
      const [a, b] = [await app.createTenant(), await app.createTenant()];
      const id = await client(b);
      expect(await verifier().verify(a, await sign(a, { sub: id, client_id: id }), mcp(a))).toBeNull();
    });

    it('refuses a grant-less token whose sub is a user: a user token must carry its grant', async () => {
      const t = await app.createTenant();
      const id = await client(t);
      const u = await user(t);
      expect(await verifier().verify(t, await sign(t, { sub: u.id, client_id: id }), mcp(t))).toBeNull();
      expect(await verifier().verify(t, await sign(t, { sub: u.id, client_id: id, gid: 42 }), mcp(t))).toBeNull();
    });
  });

  describe('the cache obeys the event bus, entry by entry', () => {
    it('grant.revoked drops that grant’s tokens only', async () => {
      const t = await app.createTenant();
      const [x, y] = [await userToken(t), await userToken(t)];
      const v = verifier();
      for (const { token } of [x, y]) expect(await v.verify(t, token, mcp(t))).not.toBeNull();
      await t.db.oidcPayload.deleteMany({ where: { model: 'Grant' } });
      await app.services.bus.publish({ type: 'grant.revoked', tenantId: t.id, grantId: x.gid });
      expect(await v.verify(t, x.token, mcp(t))).toBeNull();
      // y's grant row is gone too but nobody said so: the cache keeps serving it (it is told, never guesses).
      expect(await v.verify(t, y.token, mcp(t))).not.toBeNull();
    });

    it('bus.resumed (after a gap in which events may have been lost) drops every cached token', async () => {
      const t = await app.createTenant();
      const x = await userToken(t);
      const v = verifier();
      expect(await v.verify(t, x.token, mcp(t))).not.toBeNull();
      await t.db.user.updateMany({ where: { id: x.u.id }, data: { active: false } });
      expect(await v.verify(t, x.token, mcp(t))).not.toBeNull(); // cached, nobody said otherwise
      await app.services.bus.publish({ type: 'bus.resumed' } as never);
      expect(await v.verify(t, x.token, mcp(t))).toBeNull();
    });

    it('a grant.revoked of another tenant with the same grant id drops nothing here', async () => {
      const [a, b] = [await app.createTenant(), await app.createTenant()];
      const x = await userToken(a);
      const v = verifier();
      expect(await v.verify(a, x.token, mcp(a))).not.toBeNull();
      await a.db.oidcPayload.deleteMany({ where: { model: 'Grant' } });
      await app.services.bus.publish({ type: 'grant.revoked', tenantId: b.id, grantId: x.gid });
      expect(await v.verify(a, x.token, mcp(a))).not.toBeNull();
    });

    for (const type of ['user.revoked', 'user.changed'] as const) {
      it(`${type} drops that user’s tokens only, in that tenant only`, async () => {
        const [a, b] = [await app.createTenant(), await app.createTenant()];
        const [x, y] = [await userToken(a), await userToken(a)];
        const v = verifier();
        for (const { token } of [x, y]) expect(await v.verify(a, token, mcp(a))).not.toBeNull();
        await a.db.user.updateMany({ data: { active: false } });
        await app.services.bus.publish({ type, tenantId: b.id, userId: x.u.id });
        expect(await v.verify(a, x.token, mcp(a))).not.toBeNull();
        await app.services.bus.publish({ type, tenantId: a.id, userId: x.u.id });
        expect(await v.verify(a, x.token, mcp(a))).toBeNull();
        expect(await v.verify(a, y.token, mcp(a))).not.toBeNull();
      });
    }

    it('tenant.changed drops the tenant’s tokens and keys: a token signed with the rotated-in key verifies at once', async () => {
      const [a, b] = [await app.createTenant(), await app.createTenant()];
      const [x, y] = [await userToken(a), await userToken(b)];
      const v = verifier();
      expect(await v.verify(a, x.token, mcp(a))).not.toBeNull();
      expect(await v.verify(b, y.token, mcp(b))).not.toBeNull();
      await a.db.oidcPayload.deleteMany({ where: { model: 'Grant' } });
      await b.db.oidcPayload.deleteMany({ where: { model: 'Grant' } });
      await rotateSigningKeys(app.services, a); // publishes tenant.changed for a
      expect(await v.verify(a, x.token, mcp(a))).toBeNull();
      expect(await v.verify(b, y.token, mcp(b))).not.toBeNull();
      const fresh = await userToken(a);
      expect(await v.verify(a, fresh.token, mcp(a))).not.toBeNull();
    });
  });
});
