import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { open, seal } from './aead.js';

/**
 * Where master keys live. Today: a keyring from the environment. Later: a cloud KMS, or a tenant's own key (BYOK):
 * anything that can wrap and unwrap a data key and name the key it used.
 */
export interface MasterKeySource {
  /** Id of the key that wraps new data keys. */
  readonly activeKeyId: string;
  wrap(dataKey: Buffer, aad: string): Promise<{ masterKeyId: string; wrapped: Buffer }>;
  unwrap(masterKeyId: string, wrapped: Buffer, aad: string): Promise<Buffer>;
}

export class MasterKeyError extends Error {}

/**
 * MASTER_KEY format: comma-separated `id:base64key` entries (32-byte keys), newest first. The first entry wraps new
 * data keys; the others only unwrap, so the master key rotates by prepending a new entry, running `vault rotate`, and
 * later dropping the old entry. A single bare base64 key is accepted and gets the id `mk1`.
 */
export class EnvKeyring implements MasterKeySource {
  readonly activeKeyId: string;
  readonly #keys: Map<string, Buffer>;

  constructor(spec: string) {
    const entries = spec.split(',').map((s) => s.trim()).filter(Boolean);
    if (entries.length === 0) throw new MasterKeyError('MASTER_KEY is empty');
    this.#keys = new Map();
    for (const entry of entries) {
      const colon = entry.indexOf(':');
      const [id, b64] = colon === -1 && entries.length === 1 ? ['mk1', entry] : [entry.slice(0, colon), entry.slice(colon + 1)];
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
        throw new MasterKeyError('MASTER_KEY entries must look like id:base64key (id: letters, digits, . _ -)');
      }
      const key = Buffer.from(b64, 'base64');
      if (key.length !== 32) throw new MasterKeyError(`MASTER_KEY entry ${id} must be 32 bytes of base64`);
      if (this.#keys.has(id)) throw new MasterKeyError(`MASTER_KEY lists id ${id} twice`);
      this.#keys.set(id, key);
    }
    this.activeKeyId = [...this.#keys.keys()][0]!;
  }

  async wrap(dataKey: Buffer, aad: string) {
    return { masterKeyId: this.activeKeyId, wrapped: seal(this.#keys.get(this.activeKeyId)!, dataKey, aad) };
  }

  async unwrap(masterKeyId: string, wrapped: Buffer, aad: string) {
    const key = this.#keys.get(masterKeyId);
    if (!key) throw new MasterKeyError(`Master key ${masterKeyId} is not in the keyring (MASTER_KEY)`);
    return open(key, wrapped, aad);
  }
}

/**
 * A fresh key spec. Its id is unique, not only dated: two processes that each generated a development key (separate
 * DATA_DIRs over one DATABASE_URL) then fail with "key not in the keyring", not as if their data had been tampered with.
 */
export const generateMasterKeySpec = () => `mk-${new Date().toISOString().slice(0, 10)}-${randomBytes(4).toString('hex')}:${randomBytes(32).toString('base64')}`;

/**
 * Outside production a missing MASTER_KEY is generated once into DATA_DIR/master.key (mode 0600) so a fresh
 * `npm start` works; `onGenerate` lets the caller log the warning.
 */
export function loadOrCreateDevMasterKey(dataDir: string, onGenerate: (file: string) => void): string {
  const file = path.join(dataDir, 'master.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const spec = generateMasterKeySpec();
  writeFileSync(file, `${spec}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  onGenerate(file);
  return spec;
}
