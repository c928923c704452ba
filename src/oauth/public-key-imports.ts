import { createPublicKey, type KeyObject } from 'node:crypto';
import { errors, type JWK } from 'jose';
import type { KeySelector } from './rs256-jwt.js';

/** A few keys per tenant (the signing key and up to two previous ones), for well over the provider cache's tenants. */
const MAX_KEYS = 2_000;

/**
 * Imported public keys (node:crypto `KeyObject`s, imported synchronously: decision 0054) by key id, per node (decision
 * 0043). Importing a 2048-bit RSA key and rebuilding a JWK set was part of every first token check after each
 * 'tenant.changed', although most changes (settings edits, clients, status) leave the keys as they are. An entry is
 * only a memo of `createPublicKey` for exactly that key material: a hit needs the same kid AND the same public
 * parameters, so a kid reused for other material is imported afresh. It decides nothing: which kids verify a tenant's
 * tokens is the tenant's current key set ({@link tenantKeySelector}), read again after every change, so a key removed
 * from the set stops verifying even while its import is still here. Least recently used dropped first.
 */
export class PublicKeyImports {
  readonly #byKid = new Map<string, { material: string; key: KeyObject }>();
  #imports = 0;

  constructor(private readonly max = MAX_KEYS) {}

  /** How many keys were imported since this node started (tests count them). */
  get imports(): number {
    return this.#imports;
  }

  get size(): number {
    return this.#byKid.size;
  }

  /** The imported public key for this RSA JWK (throws for material that is not an RSA public key). */
  key(jwk: JWK): KeyObject {
    const kid = jwk.kid ?? '';
    const material = JSON.stringify([jwk.kty, jwk.alg, jwk.n, jwk.e]);
    const hit = this.#byKid.get(kid);
    if (hit && hit.material === material) {
      // Map iteration order is insertion order: re-inserting marks the entry most recently used.
      this.#byKid.delete(kid);
      this.#byKid.set(kid, hit);
      return hit.key;
    }
    this.#imports++;
    const entry = { material, key: createPublicKey({ key: { kty: jwk.kty!, n: jwk.n!, e: jwk.e! }, format: 'jwk' }) };
    this.#byKid.delete(kid);
    this.#byKid.set(kid, entry);
    while (this.#byKid.size > this.max) this.#byKid.delete(this.#byKid.keys().next().value!);
    return entry.key;
  }
}

/**
 * The key a token names, from exactly this key set (the tenant's public JWKs): what `createLocalJWKSet` selects for
 * RS256 (RFC 7515 §4.1.4 kid; RFC 7517 §4.2 use, §4.4 alg), with the import shared across key sets. A kid not in
 * the set is refused however recently it verified; without a kid only a set of one key answers.
 */
export function tenantKeySelector(keys: readonly JWK[], imports: PublicKeyImports): KeySelector {
  const usable = keys.filter((k) => k.kty === 'RSA' && (k.use === undefined || k.use === 'sig') && (k.alg === undefined || k.alg === 'RS256'));
  const byKid = new Map(usable.filter((k) => typeof k.kid === 'string').map((k) => [k.kid!, k]));
  return (header) => {
    const jwk = header.kid === undefined ? (usable.length === 1 ? usable[0] : undefined) : byKid.get(header.kid);
    if (!jwk || header.alg !== 'RS256') throw new errors.JWKSNoMatchingKey();
    return imports.key(jwk);
  };
}
