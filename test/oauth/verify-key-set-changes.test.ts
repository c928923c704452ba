import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { issuerUrl } from '../../src/oauth/oauth-urls.js';
import { loadSigningKeys, rotateSigningKeys, sealedSigningKeysOf, SIGNING_KEYS_OWNER, type TenantKeyMaterial } from '../../src/oauth/signing-keys.js';
import { JwtAccessTokenVerifier } from '../../src/oauth/verify-access-token.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The verifier's key set across 'tenant.changed' (issue 17 §2, decision 0043): imported public keys are kept by kid,
 * while which kids verify is read again after every change — so a rotated-in key verifies at once, a key removed from
 * the tenant's set is refused at once (fresh and from the token cache), and a change that left the keys alone
 * imports nothing. Both ways a context reaches the verifier are covered: from the tenant directory, whose read brings
 * the sealed keys along, and built elsewhere (the verifier then reads the keys itself).
 */
describe.each(testDbKinds)('access-token verifier across key set changes (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  const nowS = () => Math.floor(app.clock.now().getTime() / 1000);
  const mcp = (t: TenantCtx) => `${app.url}/t/${t.slug}/mcp`;

  async function sign(t: TenantCtx, jwk: JWK, sub: string, gid: string) {
    const iat = nowS() - 10;
    return new SignJWT({ iss: issuerUrl(app.url, t), aud: mcp(t), iat, exp: iat + 600, jti: randomBytes(8).toString('hex'), tid: t.id, sub, client_id: 'c1', gid, scope: 'mcp:tools' })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: jwk.kid })
      .sign(await importJWK(jwk, 'RS256'));
  }

  /** A user with a live grant, and a token for them signed with `jwk`. */
  async function tokenSignedWith(t: TenantCtx, jwk: JWK) {
    const email = `${randomBytes(4).toString('hex')}@example.com`;
    const u = await t.db.user.create({ data: { id: newId('usr'), tenantId: t.id, userName: email, userNameKey: email, email, source: 'manual' } });
    const gid = newId('grt');
    await t.db.oidcPayload.create({ data: { tenantId: t.id, model: 'Grant', id: gid, payload: {}, accountId: u.id, expiresAt: null } });
    return sign(t, jwk, u.id, gid);
  }

  /** Replaces the tenant's stored key material by hand (an operator removing a compromised key), then announces it. */
  async function storeKeys(t: TenantCtx, material: TenantKeyMaterial) {
    const row = await t.db.vaultSecret.findFirst({ where: { ownerKind: SIGNING_KEYS_OWNER, ownerId: t.id }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    await app.services.vault.replace(t, row!.id, JSON.stringify(material));
    await app.services.bus.publish({ type: 'tenant.changed', tenantId: t.id });
  }

  async function newKey(): Promise<JWK> {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
    const jwk = await exportJWK(privateKey);
    return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' };
  }

  const verifier = () => new JwtAccessTokenVerifier({ config: app.services.config, vault: app.services.vault, bus: app.services.bus, clock: app.clock }, app.services.bus);
  /** As a request resolves its tenant: through the directory, whose read brings the sealed keys along. */
  const fromDirectory = async (t: TenantCtx) => (await app.services.tenants.findActive(t.slug))!;

  for (const path of ['directory', 'separate read'] as const) {
    const ctx = (t: TenantCtx) => (path === 'directory' ? fromDirectory(t) : Promise.resolve(t));

    it(`a key removed from the tenant's set is refused at once after tenant.changed, fresh and cached (${path})`, async () => {
      const t = await app.createTenant();
      await rotateSigningKeys(app.services, t);
      const [kept, removed] = (await loadSigningKeys(app.services, t)).keys as [JWK, JWK];
      const v = verifier();
      const byRemoved = await tokenSignedWith(t, removed);
      const byKept = await tokenSignedWith(t, kept);
      expect(await v.verify(await ctx(t), byRemoved, mcp(t))).not.toBeNull();
      expect(await v.verify(await ctx(t), byKept, mcp(t))).not.toBeNull();
      if (path === 'directory') expect(sealedSigningKeysOf(await ctx(t))).toBeDefined();

      const material = await loadSigningKeys(app.services, t);
      await storeKeys(t, { keys: [kept], cookieKeys: material.cookieKeys });

      const after = await ctx(t);
      expect(await v.verify(after, byRemoved, mcp(t))).toBeNull(); // verified (and cached) a moment ago
      expect(await v.verify(after, await tokenSignedWith(t, removed), mcp(t))).toBeNull(); // never seen
      expect(await v.verify(after, byKept, mcp(t))).not.toBeNull();
    });

    it(`a rotated-in key verifies at once; only it is imported (${path})`, async () => {
      const t = await app.createTenant();
      const [first] = (await loadSigningKeys(app.services, t)).keys as [JWK];
      const v = verifier();
      expect(await v.verify(await ctx(t), await tokenSignedWith(t, first), mcp(t))).not.toBeNull();
      const imported = v.keyImports.imports;

      const { kid } = await rotateSigningKeys(app.services, t); // publishes tenant.changed
      const rotated = (await loadSigningKeys(app.services, t)).keys.find((k) => k.kid === kid)!;
      expect(await v.verify(await ctx(t), await tokenSignedWith(t, rotated), mcp(t))).not.toBeNull();
      expect(await v.verify(await ctx(t), await tokenSignedWith(t, first), mcp(t))).not.toBeNull(); // still published
      expect(v.keyImports.imports).toBe(imported + 1);
    });

    it(`a tenant.changed that left the keys alone imports nothing, and the next token still verifies (${path})`, async () => {
      const t = await app.createTenant();
      const [key] = (await loadSigningKeys(app.services, t)).keys as [JWK];
      const v = verifier();
      expect(await v.verify(await ctx(t), await tokenSignedWith(t, key), mcp(t))).not.toBeNull();
      const imported = v.keyImports.imports;
      for (let i = 0; i < 3; i++) {
        await app.services.bus.publish({ type: 'tenant.changed', tenantId: t.id });
        expect(await v.verify(await ctx(t), await tokenSignedWith(t, key), mcp(t))).not.toBeNull();
      }
      expect(v.keyImports.imports).toBe(imported);
    });
  }

  it('keys read with a tenant context held across tenant.changed are not used: the verifier reads the set afresh', async () => {
    const t = await app.createTenant();
    await rotateSigningKeys(app.services, t);
    const material = await loadSigningKeys(app.services, t);
    const [kept, removed] = material.keys as [JWK, JWK];
    const held = await fromDirectory(t); // brought both keys
    const v = verifier();
    expect(await v.verify(held, await tokenSignedWith(t, removed), mcp(t))).not.toBeNull();
    await storeKeys(t, { keys: [kept], cookieKeys: material.cookieKeys });
    expect(await v.verify(held, await tokenSignedWith(t, removed), mcp(t))).toBeNull();
    expect(await v.verify(held, await tokenSignedWith(t, kept), mcp(t))).not.toBeNull();
  });

  it('a verification that overlapped a grant.revoked is answered but not cached', async () => {
    const t = await app.createTenant();
    const [key] = (await loadSigningKeys(app.services, t)).keys as [JWK];
    const token = await tokenSignedWith(t, key);
    const v = verifier();
    // The event arrives while the grant is being read (the hook runs just before that read).
    const hooks = { onSignedSubject: () => void app.services.bus.publish({ type: 'grant.revoked', tenantId: t.id, grantId: 'grt_other' }) };
    expect(await v.verify(t, token, mcp(t), hooks)).not.toBeNull();
    await t.db.oidcPayload.deleteMany({ where: { model: 'Grant' } }); // revoked without an event of its own
    expect(await v.verify(t, token, mcp(t))).toBeNull(); // read again, not served from the cache
  });

  it('a kid reused for other key material is not served from the import cache', async () => {
    const t = await app.createTenant();
    const material = await loadSigningKeys(app.services, t);
    const [key] = material.keys as [JWK];
    const v = verifier();
    expect(await v.verify(await fromDirectory(t), await tokenSignedWith(t, key), mcp(t))).not.toBeNull();
    // Another key stored under the same kid (kids are thumbprints here, but the store is not trusted to keep it so).
    const impostor = { ...(await newKey()), kid: key.kid };
    await storeKeys(t, { keys: [impostor], cookieKeys: material.cookieKeys });
    expect(await v.verify(await fromDirectory(t), await tokenSignedWith(t, key), mcp(t))).toBeNull();
    expect(await v.verify(await fromDirectory(t), await tokenSignedWith(t, impostor), mcp(t))).not.toBeNull();
  });

  it('sealed keys of another tenant do not open under this tenant (the vault authenticates the row to its tenant)', async () => {
    const [a, b] = [await app.createTenant(), await app.createTenant()];
    await loadSigningKeys(app.services, b); // created on first use
    const sealedB = sealedSigningKeysOf(await fromDirectory(b));
    expect(sealedB).toBeDefined();
    await expect(app.services.vault.openString(a, sealedB!.sealed)).rejects.toThrow();
  });
});
