import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, type JWTHeaderParameters } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { PublicKeyImports, tenantKeySelector } from '../../src/oauth/public-key-imports.js';
import { publicJwk } from '../../src/oauth/signing-keys.js';

/** The per-node import cache (by kid, checked against the key material) and the per-tenant key selection (decision 0043). */
describe('imported public keys by kid', () => {
  const keys: JWK[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const { publicKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
      const jwk = await exportJWK(publicKey);
      keys.push(publicJwk({ ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' }));
    }
  });
  const header = (kid?: string, alg = 'RS256') => ({ alg, ...(kid !== undefined && { kid }) }) as JWTHeaderParameters;
  const select = (getKey: ReturnType<typeof tenantKeySelector>, h: JWTHeaderParameters) =>
    Promise.resolve().then(() => getKey(h));

  it('imports a key once, however many key sets name it', async () => {
    const imports = new PublicKeyImports();
    const first = await imports.key(keys[0]!);
    expect(await imports.key({ ...keys[0]! })).toBe(first);
    await select(tenantKeySelector([keys[0]!, keys[1]!], imports), header(keys[0]!.kid));
    await select(tenantKeySelector([keys[1]!, keys[0]!], imports), header(keys[0]!.kid));
    expect(imports.imports).toBe(1);
  });

  it('imports afresh when a kid comes with other key material', async () => {
    const imports = new PublicKeyImports();
    const original = await imports.key(keys[0]!);
    const impostor = await imports.key({ ...keys[1]!, kid: keys[0]!.kid });
    expect(impostor).not.toBe(original);
    expect(imports.imports).toBe(2);
    expect(await imports.key({ ...keys[1]!, kid: keys[0]!.kid })).toBe(impostor);
  });

  it('keeps at most its bound, least recently used dropped first', async () => {
    const imports = new PublicKeyImports(2);
    await imports.key(keys[0]!);
    await imports.key(keys[1]!);
    await imports.key(keys[0]!); // most recently used
    await imports.key(keys[2]!); // drops keys[1]
    expect(imports.size).toBe(2);
    expect(imports.imports).toBe(3);
    await imports.key(keys[0]!);
    expect(imports.imports).toBe(3);
    await imports.key(keys[1]!);
    expect(imports.imports).toBe(4);
  });

  it('a key set answers only its own kids, RS256 only; without a kid only a set of one key answers', async () => {
    const imports = new PublicKeyImports();
    const set = tenantKeySelector([keys[0]!, keys[1]!], imports);
    expect(await select(set, header(keys[1]!.kid))).toBe(await imports.key(keys[1]!));
    await imports.key(keys[2]!); // imported for another tenant: still not this set's key
    await expect(select(set, header(keys[2]!.kid))).rejects.toThrow(/no applicable key/i);
    await expect(select(set, header(undefined))).rejects.toThrow(/no applicable key/i);
    await expect(select(set, header(keys[0]!.kid, 'PS256'))).rejects.toThrow(/no applicable key/i);
    const single = tenantKeySelector([keys[0]!], imports);
    expect(await select(single, header(undefined))).toBe(await imports.key(keys[0]!));
  });

  it('a key marked for encryption or another algorithm is not a signing key of the set', async () => {
    const imports = new PublicKeyImports();
    const set = tenantKeySelector([{ ...keys[0]!, use: 'enc' }, { ...keys[1]!, alg: 'RS512' }], imports);
    await expect(select(set, header(keys[0]!.kid))).rejects.toThrow(/no applicable key/i);
    await expect(select(set, header(keys[1]!.kid))).rejects.toThrow(/no applicable key/i);
  });
});
