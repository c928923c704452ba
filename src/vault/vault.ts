import { randomBytes } from 'node:crypto';
import { hotQuery, statement } from '../db/hot-sql.js';
import type { Db } from '../db/open-database.js';
import { newId } from '../lib/ids.js';
import { notFound } from '../lib/errors.js';
import { tenantContext, type TenantCtx } from '../tenants/tenant-context.js';
import { DecryptionError, open, seal } from './aead.js';
import type { MasterKeySource } from './master-keys.js';

export interface SecretOwner {
  kind: string; // 'idp-connection' | 'upstream-headers' | 'user-credential' | …
  id: string;
  /** Set for per-user credentials: the revocation hub deletes them when the user is deprovisioned. */
  userId?: string;
}

/**
 * A secret's row as stored (still encrypted), read by a caller's own statement together with the rows it belongs to
 * (the tenant's signing keys with the tenant row, find-tenant.ts); only {@link Vault.openString} decrypts it.
 */
export interface SealedSecret {
  readonly id: string;
  readonly keyId: string;
  readonly ciphertext: Uint8Array;
}

export interface RotationReport {
  tenants: number;
  dataKeysCreated: number;
  keysRewrapped: number;
  secretsReencrypted: number;
  retiredKeysDeleted: number;
  /** Secrets that failed authentication (tampered or corrupt): left untouched, listed for the operator. */
  secretsFailed: string[];
}

const keyAad = (tenantId: string, keyId: string) => `vault-key:${tenantId}:${keyId}`;
const deploymentAad = (name: string, masterKeyId: string) => `vault-deployment:${name}:${masterKeyId}`;
const secretAad = (tenantId: string, secretId: string, keyId: string) => `vault-secret:${tenantId}:${secretId}:${keyId}`;

/**
 * findOldestString's read: the tenant's signing keys are read with it on every node's first request for a tenant and
 * after every `tenant.changed` (issue 17 §2), so it is a prepared statement on the driver (hot-sql.ts). Raw SQL
 * bypasses the tenant-scoped client: the tenant is bound explicitly ($1; test/foundation/vault.test.ts has the
 * cross-tenant case).
 */
const OLDEST_SECRET = statement(
  'vault_oldest_secret',
  `SELECT "id", "keyId", "ciphertext" FROM "VaultSecret"
    WHERE "tenantId" = $1 AND "ownerKind" = $2 AND "ownerId" = $3
    ORDER BY "createdAt" ASC, "id" ASC LIMIT 1`,
);

/**
 * Envelope encryption: each tenant has data keys (AES-256-GCM), each wrapped by a master key of the keyring. Every
 * ciphertext names its data key and every wrapped data key its master key, so old ones keep decrypting during and
 * after rotation. Unwrapped data keys are cached in memory only.
 */
export class Vault {
  readonly #dataKeys = new Map<string, Buffer>();

  constructor(private readonly masterKeys: MasterKeySource) {}

  async put(t: TenantCtx, owner: SecretOwner, plaintext: string | Buffer): Promise<string> {
    const id = newId('sec');
    const key = await this.#activeKey(t);
    await t.db.vaultSecret.create({
      data: {
        id,
        tenantId: t.id,
        keyId: key.id,
        ownerKind: owner.kind,
        ownerId: owner.id,
        userId: owner.userId ?? null,
        ciphertext: bytes(seal(key.key, toBuffer(plaintext), secretAad(t.id, id, key.id))),
      },
    });
    return id;
  }

  async replace(t: TenantCtx, secretId: string, plaintext: string | Buffer): Promise<void> {
    const key = await this.#activeKey(t);
    const { count } = await t.db.vaultSecret.updateMany({
      where: { id: secretId },
      data: { keyId: key.id, ciphertext: bytes(seal(key.key, toBuffer(plaintext), secretAad(t.id, secretId, key.id))) },
    });
    if (count === 0) throw notFound(`Secret ${secretId} not found`);
  }

  async get(t: TenantCtx, secretId: string): Promise<Buffer> {
    const row = await t.db.vaultSecret.findUnique({ where: { id: secretId } });
    if (!row) throw notFound(`Secret ${secretId} not found`);
    const key = await this.#dataKey(t, row.keyId);
    return open(key, Buffer.from(row.ciphertext), secretAad(t.id, row.id, row.keyId));
  }

  /**
   * The oldest secret of an owner, decrypted, in one query (null if it has none) — for owners that keep one secret
   * and may race to create it, where "the oldest" is the one every node agrees on (signing keys).
   */
  async findOldestString(t: TenantCtx, owner: Pick<SecretOwner, 'kind' | 'id'>): Promise<string | null> {
    const [row] = await hotQuery<SealedSecret>(t.db, OLDEST_SECRET, [t.id, owner.kind, owner.id]);
    return row ? this.openString(t, row) : null;
  }

  /**
   * Decrypts a secret row the caller read itself (in the same statement as other rows, to spare a round trip). The
   * ciphertext is authenticated against this tenant, the row's id and its data key (AES-GCM associated data), so a row
   * of another tenant, or one moved to another id, fails with DecryptionError exactly as {@link get} would.
   */
  async openString(t: TenantCtx, row: SealedSecret): Promise<string> {
    const key = await this.#dataKey(t, row.keyId);
    return open(key, Buffer.from(row.ciphertext), secretAad(t.id, row.id, row.keyId)).toString('utf8');
  }

  async getString(t: TenantCtx, secretId: string): Promise<string> {
    return (await this.get(t, secretId)).toString('utf8');
  }

  async remove(t: TenantCtx, secretId: string): Promise<void> {
    await t.db.vaultSecret.deleteMany({ where: { id: secretId } });
  }

  /**
   * Deployment-level secrets (the Google Marketplace publisher's service account): no tenant owns them, so they are
   * sealed directly under the active master key (AES-256-GCM, bound to their name and key id) and kept in
   * ServerSetting as `vault:<name>` = `<masterKeyId>:<base64>`. Readable while the keyring lists that master key.
   */
  async putDeployment(db: Pick<Db, 'serverSetting'>, name: string, plaintext: string | Buffer): Promise<void> {
    const { masterKeyId, wrapped } = await this.masterKeys.wrap(toBuffer(plaintext), deploymentAad(name, this.masterKeys.activeKeyId));
    const value = `${masterKeyId}:${wrapped.toString('base64')}`;
    await db.serverSetting.upsert({ where: { key: `vault:${name}` }, create: { key: `vault:${name}`, value }, update: { value } });
  }

  async getDeployment(db: Pick<Db, 'serverSetting'>, name: string): Promise<Buffer | null> {
    const row = await db.serverSetting.findUnique({ where: { key: `vault:${name}` } });
    if (!row) return null;
    const colon = row.value.indexOf(':');
    const keyId = row.value.slice(0, colon);
    return this.masterKeys.unwrap(keyId, Buffer.from(row.value.slice(colon + 1), 'base64'), deploymentAad(name, keyId));
  }

  /** Revocation-hub store: drops every per-user credential of this user. */
  async removeForUser(t: TenantCtx, userId: string): Promise<number> {
    return (await t.db.vaultSecret.deleteMany({ where: { userId } })).count;
  }

  /**
   * New data key per tenant, then re-wrap keys under the active master key and re-encrypt secrets in small batches,
   * each row updated only if nobody changed it meanwhile. Reads keep working throughout: no downtime.
   */
  async rotate(db: Db, batchSize = 100): Promise<RotationReport> {
    const report: RotationReport = { tenants: 0, dataKeysCreated: 0, keysRewrapped: 0, secretsReencrypted: 0, retiredKeysDeleted: 0, secretsFailed: [] };
    for (const row of await db.tenant.findMany({ select: { id: true, slug: true, name: true, settings: true } })) {
      const t = tenantContext(db, row);
      report.tenants++;
      report.keysRewrapped += await this.#rewrapKeys(t);
      const fresh = await this.#createKey(t);
      report.dataKeysCreated++;
      await t.db.vaultKey.updateMany({ where: { status: 'active', id: { not: fresh.id } }, data: { status: 'retired', retiredAt: new Date() } });
      let after = '';
      for (;;) {
        const batch = await t.db.vaultSecret.findMany({
          where: { keyId: { not: fresh.id }, id: { gt: after } },
          take: batchSize,
          orderBy: { id: 'asc' },
        });
        if (batch.length === 0) break;
        after = batch.at(-1)!.id;
        for (const s of batch) {
          let plain: Buffer;
          try {
            plain = open(await this.#dataKey(t, s.keyId), Buffer.from(s.ciphertext), secretAad(t.id, s.id, s.keyId));
          } catch (err) {
            // A corrupt secret must not stop the rotation of every other one; it is reported and left as it is.
            if (!(err instanceof DecryptionError)) throw err;
            report.secretsFailed.push(s.id);
            continue;
          }
          const { count } = await t.db.vaultSecret.updateMany({
            where: { id: s.id, keyId: s.keyId, updatedAt: s.updatedAt },
            data: { keyId: fresh.id, ciphertext: bytes(seal(fresh.key, plain, secretAad(t.id, s.id, fresh.id))) },
          });
          report.secretsReencrypted += count;
        }
      }
      const unused = await t.db.vaultKey.deleteMany({ where: { status: 'retired', secrets: { none: {} } } });
      report.retiredKeysDeleted += unused.count;
    }
    return report;
  }

  async #rewrapKeys(t: TenantCtx): Promise<number> {
    let n = 0;
    const stale = await t.db.vaultKey.findMany({ where: { masterKeyId: { not: this.masterKeys.activeKeyId } } });
    for (const k of stale) {
      const plain = await this.masterKeys.unwrap(k.masterKeyId, Buffer.from(k.wrappedKey), keyAad(t.id, k.id));
      const { masterKeyId, wrapped } = await this.masterKeys.wrap(plain, keyAad(t.id, k.id));
      n += (await t.db.vaultKey.updateMany({ where: { id: k.id, masterKeyId: k.masterKeyId }, data: { masterKeyId, wrappedKey: bytes(wrapped) } })).count;
    }
    return n;
  }

  async #activeKey(t: TenantCtx): Promise<{ id: string; key: Buffer }> {
    // Two nodes may create a first key at the same time; both stay valid and the newest wins from then on.
    const row = await t.db.vaultKey.findFirst({ where: { status: 'active' }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
    if (row) return { id: row.id, key: await this.#dataKey(t, row.id, row) };
    return this.#createKey(t);
  }

  async #createKey(t: TenantCtx): Promise<{ id: string; key: Buffer }> {
    const id = newId('dk');
    const key = randomBytes(32);
    const { masterKeyId, wrapped } = await this.masterKeys.wrap(key, keyAad(t.id, id));
    await t.db.vaultKey.create({ data: { id, tenantId: t.id, masterKeyId, wrappedKey: bytes(wrapped) } });
    this.#dataKeys.set(id, key);
    return { id, key };
  }

  async #dataKey(t: TenantCtx, keyId: string, known?: { masterKeyId: string; wrappedKey: Uint8Array }): Promise<Buffer> {
    const cached = this.#dataKeys.get(keyId);
    if (cached) return cached;
    const row = known ?? (await t.db.vaultKey.findUnique({ where: { id: keyId } }));
    if (!row) throw notFound(`Vault key ${keyId} not found`);
    const key = await this.masterKeys.unwrap(row.masterKeyId, Buffer.from(row.wrappedKey), keyAad(t.id, keyId));
    this.#dataKeys.set(keyId, key);
    return key;
  }
}

const toBuffer = (v: string | Buffer) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

/** Prisma's Bytes fields take a Uint8Array backed by a plain ArrayBuffer. */
const bytes = (b: Buffer): Uint8Array<ArrayBuffer> => new Uint8Array(b);
