import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/open-database.js';
import { createTenant } from '../../src/tenants/manage-tenants.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { DecryptionError } from '../../src/vault/aead.js';
import { EnvKeyring, generateMasterKeySpec, MasterKeyError } from '../../src/vault/master-keys.js';
import { Vault } from '../../src/vault/vault.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';

const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

describe('master keyring', () => {
  it('uses the first entry for new data keys and keeps the others for unwrapping', async () => {
    const old = key('mk1');
    const fresh = key('mk2');
    const before = new EnvKeyring(old);
    const wrapped = await before.wrap(Buffer.alloc(32, 7), 'aad');
    const after = new EnvKeyring(`${fresh},${old}`);
    expect(after.activeKeyId).toBe('mk2');
    expect(await after.unwrap(wrapped.masterKeyId, wrapped.wrapped, 'aad')).toEqual(Buffer.alloc(32, 7));
    await expect(new EnvKeyring(fresh).unwrap('mk1', wrapped.wrapped, 'aad')).rejects.toThrow(MasterKeyError);
  });

  it('generated development keys have ids of their own: another process\'s key is "not in the keyring", not tampering', async () => {
    const [one, two] = [generateMasterKeySpec(), generateMasterKeySpec()];
    expect(one.split(':')[0]).not.toBe(two.split(':')[0]);
    const wrapped = await new EnvKeyring(one).wrap(Buffer.alloc(32, 1), 'aad');
    await expect(new EnvKeyring(two).unwrap(wrapped.masterKeyId, wrapped.wrapped, 'aad')).rejects.toThrow(MasterKeyError);
  });

  it('accepts a single bare key and refuses malformed specs', () => {
    expect(new EnvKeyring(randomBytes(32).toString('base64')).activeKeyId).toBe('mk1');
    expect(() => new EnvKeyring('mk1:c2hvcnQ=')).toThrow(/32 bytes/);
    expect(() => new EnvKeyring(`${key('a')},${key('a')}`)).toThrow(/twice/);
    expect(() => new EnvKeyring(`bad id!:${randomBytes(32).toString('base64')},${key('b')}`)).toThrow(/id:base64key/);
  });
});

describe.each(testDbKinds)('vault (%s)', (kind) => {
  let database: Database;
  let a: TenantCtx;
  let b: TenantCtx;
  const mk1 = key('mk1');
  beforeAll(async () => {
    database = await openTestDatabase(kind);
    for (const slug of ['vault-a', 'vault-b']) await createTenant(database.prisma, { slug, name: slug });
    a = (await findTenantBySlug(database.prisma, 'vault-a'))!;
    b = (await findTenantBySlug(database.prisma, 'vault-b'))!;
  });
  afterAll(() => database?.close());

  it('round-trips secrets and stores only ciphertext', async () => {
    const vault = new Vault(new EnvKeyring(mk1));
    const id = await vault.put(a, { kind: 'idp-connection', id: 'c1' }, 'client-secret-value');
    expect(await vault.getString(a, id)).toBe('client-secret-value');
    const row = await a.db.vaultSecret.findUniqueOrThrow({ where: { id } });
    expect(Buffer.from(row.ciphertext).toString('utf8')).not.toContain('client-secret-value');
    const dataKey = await a.db.vaultKey.findUniqueOrThrow({ where: { id: row.keyId } });
    expect(dataKey.masterKeyId).toBe('mk1');
  });

  it('detects tampered ciphertext', async () => {
    const vault = new Vault(new EnvKeyring(mk1));
    const id = await vault.put(a, { kind: 'test', id: 't' }, 'hello');
    const row = await a.db.vaultSecret.findUniqueOrThrow({ where: { id } });
    const bytes = Buffer.from(row.ciphertext);
    bytes[bytes.length - 1]! ^= 1;
    await a.db.vaultSecret.update({ where: { id }, data: { ciphertext: new Uint8Array(bytes) } });
    await expect(new Vault(new EnvKeyring(mk1)).get(a, id)).rejects.toThrow(DecryptionError);
  });

  it('binds each ciphertext to its record: a ciphertext copied onto another secret does not decrypt', async () => {
    const vault = new Vault(new EnvKeyring(mk1));
    const one = await vault.put(a, { kind: 'test', id: '1' }, 'one');
    const two = await vault.put(a, { kind: 'test', id: '2' }, 'two');
    const src = await a.db.vaultSecret.findUniqueOrThrow({ where: { id: one } });
    await a.db.vaultSecret.update({ where: { id: two }, data: { ciphertext: src.ciphertext } });
    await expect(vault.get(a, two)).rejects.toThrow(DecryptionError);
  });

  it("does not let one tenant read another tenant's secret", async () => {
    const vault = new Vault(new EnvKeyring(mk1));
    const id = await vault.put(a, { kind: 'test', id: 'x' }, 'a-only');
    await expect(vault.get(b, id)).rejects.toThrow(/not found/);
  });

  it('findOldestString reads an owner’s oldest secret in this tenant only, authenticated like get', async () => {
    const vault = new Vault(new EnvKeyring(mk1));
    const owner = { kind: 'oldest-test', id: 'same-owner-id' };
    expect(await vault.findOldestString(a, owner)).toBeNull();
    await vault.put(b, owner, 'b-first'); // another tenant's owner with the same id, written first
    expect(await vault.findOldestString(a, owner)).toBeNull();
    const first = await vault.put(a, owner, 'a-first');
    await vault.put(a, owner, 'a-second');
    // Rows written in one millisecond tie on createdAt; the id breaks the tie, so make the first one clearly older.
    await a.db.vaultSecret.update({ where: { id: first }, data: { createdAt: new Date(Date.now() - 60_000) } });
    expect(await vault.findOldestString(a, owner)).toBe('a-first');
    expect(await vault.findOldestString(b, owner)).toBe('b-first');
    const row = await a.db.vaultSecret.findUniqueOrThrow({ where: { id: first } });
    const bytes = Buffer.from(row.ciphertext);
    bytes[0]! ^= 1;
    await a.db.vaultSecret.update({ where: { id: first }, data: { ciphertext: new Uint8Array(bytes) } });
    await expect(vault.findOldestString(a, owner)).rejects.toThrow(DecryptionError);
  });

  it('rotates data keys and the master key without losing a secret', async () => {
    // Rotation is system-wide: it gets a database of its own so other tests' keys are not rotated under them.
    const own = await openTestDatabase(kind);
    try {
      await createTenant(own.prisma, { slug: 'vault-rot', name: 'R' });
      const r = (await findTenantBySlug(own.prisma, 'vault-rot'))!;
      const before = new Vault(new EnvKeyring(mk1));
      const ids = await Promise.all(['s1', 's2', 's3'].map((v) => before.put(r, { kind: 'test', id: v }, `value-${v}`)));
      const mk2 = key('mk2');
      // The operator prepends a new master key, then runs `vault rotate`.
      const after = new Vault(new EnvKeyring(`${mk2},${mk1}`));
      const report = await after.rotate(own.prisma, 2);
      expect(report).toMatchObject({ tenants: 1, dataKeysCreated: 1, secretsReencrypted: 3, secretsFailed: [] });
      const keys = await r.db.vaultKey.findMany();
      expect(keys).toHaveLength(1); // the retired key held nothing any more and was deleted
      expect(keys[0]).toMatchObject({ masterKeyId: 'mk2', status: 'active' });
      // Old master key dropped from the keyring: everything still decrypts.
      const onlyNew = new Vault(new EnvKeyring(mk2));
      for (const [i, id] of ids.entries()) expect(await onlyNew.getString(r, id)).toBe(`value-s${i + 1}`);
    } finally {
      await own.close();
    }
  });

  it('reports a corrupt secret during rotation instead of stopping', async () => {
    const own = await openTestDatabase(kind);
    try {
      await createTenant(own.prisma, { slug: 'vault-bad', name: 'R' });
      const r = (await findTenantBySlug(own.prisma, 'vault-bad'))!;
      const vault = new Vault(new EnvKeyring(mk1));
      const good = await vault.put(r, { kind: 'test', id: 'g' }, 'good');
      const bad = await vault.put(r, { kind: 'test', id: 'b' }, 'bad');
      await r.db.vaultSecret.update({ where: { id: bad }, data: { ciphertext: new Uint8Array([1, 2, 3]) } });
      const report = await vault.rotate(own.prisma);
      expect(report.secretsFailed).toEqual([bad]);
      expect(await vault.getString(r, good)).toBe('good');
    } finally {
      await own.close();
    }
  });

  it('drops per-user credentials for the revocation hub', async () => {
    const vault = new Vault(new EnvKeyring(mk1));
    const mine = await vault.put(a, { kind: 'user-credential', id: 'u1:up', userId: 'u1' }, 'x');
    const other = await vault.put(a, { kind: 'user-credential', id: 'u2:up', userId: 'u2' }, 'y');
    expect(await vault.removeForUser(a, 'u1')).toBe(1);
    await expect(vault.get(a, mine)).rejects.toThrow(/not found/);
    expect(await vault.getString(a, other)).toBe('y');
  });
});
