import { createPublicKey, createSecretKey, generateKeyPairSync, sign as rsaSign, type KeyObject } from 'node:crypto';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyRs256Jwt, type Rs256JwtChecks } from '../../src/oauth/rs256-jwt.js';

/**
 * The in-line RS256 JWT check the access-token verifier uses (decision 0054) against hostile tokens, one guard at a
 * time, and against jose's `jwtVerify` (which it replaced on that path) on the same tokens: what jose refused for the
 * verifier's options must be refused here too. Pure: keys generated here, the clock a fixed number.
 */
describe('verifyRs256Jwt', () => {
  const now = Date.UTC(2026, 0, 1, 12);
  const nowS = now / 1000;
  const checks: Rs256JwtChecks = { issuer: 'https://as.example/t/acme', audience: 'https://as.example/t/acme/mcp', typ: 'at+jwt', now, requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'jti'] };
  const claims = { iss: checks.issuer, aud: checks.audience, sub: 'usr_1', client_id: 'c1', jti: 'j1', iat: nowS - 10, exp: nowS + 600, tid: 'ten_1' };
  let privateKey: CryptoKey;
  let publicKey: KeyObject;
  let otherPublic: KeyObject;
  let otherPrivate: CryptoKey;
  const keyOf = () => publicKey;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    publicKey = createPublicKey({ key: await exportJWK(pair.publicKey), format: 'jwk' }) as KeyObject;
    const other = await generateKeyPair('RS256', { extractable: true });
    otherPrivate = other.privateKey;
    otherPublic = createPublicKey({ key: await exportJWK(other.publicKey), format: 'jwk' }) as KeyObject;
  });

  const sign = (payload: Record<string, unknown> = claims, header: Record<string, unknown> = { alg: 'RS256', typ: 'at+jwt', kid: 'k1' }, key = privateKey) =>
    new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key);
  const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
  /** What jose's jwtVerify, with the verifier's former options, says of the same token. */
  const jose = (token: string, key = publicKey) =>
    jwtVerify(token, key, { issuer: checks.issuer, audience: checks.audience, typ: 'at+jwt', algorithms: ['RS256'], currentDate: new Date(now), clockTolerance: 0, requiredClaims: [...checks.requiredClaims] }).then(
      () => true,
      () => false,
    );
  const agree = async (token: string, expected: boolean) => {
    expect(verifyRs256Jwt(token, keyOf, checks) !== null, 'rs256-jwt').toBe(expected);
    expect(await jose(token), 'jose').toBe(expected);
  };

  it('accepts a valid token and returns its claims', async () => {
    const token = await sign();
    expect(verifyRs256Jwt(token, keyOf, checks)).toEqual(claims);
    await agree(token, true);
    await agree(await sign(claims, { alg: 'RS256', typ: 'application/AT+JWT' }), true);
    await agree(await sign({ ...claims, aud: [checks.audience, 'https://other.example'] }), true); // the caller refuses several
    await agree(await sign({ ...claims, nbf: nowS }), true);
  });

  it('refuses a signature by another key, a tampered payload, header or signature', async () => {
    await agree(await sign(claims, undefined, otherPrivate), false);
    const [h, p, s] = (await sign()).split('.') as [string, string, string];
    await agree(`${h}.${b64({ ...claims, sub: 'usr_admin' })}.${s}`, false);
    await agree(`${b64({ alg: 'RS256', typ: 'at+jwt', kid: 'k2' })}.${p}.${s}`, false);
    await agree(`${h}.${p}.${s.slice(0, -4)}AAAA`, false);
    await agree(`${h}.${p}.${s.slice(0, 20)}`, false);
    // The key the selector returns decides: the right token checked with another tenant's key fails.
    expect(verifyRs256Jwt(`${h}.${p}.${s}`, () => otherPublic, checks)).toBeNull();
  });

  it('refuses alg none, an HMAC keyed with the public key, other RSA algorithms and a crit header', async () => {
    const [, p] = (await sign()).split('.') as [string, string];
    await agree(`${b64({ alg: 'none', typ: 'at+jwt' })}.${p}.`, false);
    await agree(`${b64({ alg: 'none', typ: 'at+jwt' })}.${p}.AAAA`, false);
    const pem = publicKey.export({ type: 'spki', format: 'pem' });
    await agree(await sign(claims, { alg: 'HS256', typ: 'at+jwt' }, createSecretKey(Buffer.from(pem)) as never), false);
    // A PKCS#1 v1.5 signature with SHA-512 (RS512) or a PSS signature over the same text is not RS256.
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const hdr = b64({ alg: 'RS512', typ: 'at+jwt' });
    const rs512 = `${hdr}.${p}.${rsaSign('sha512', Buffer.from(`${hdr}.${p}`), pair.privateKey).toString('base64url')}`;
    expect(verifyRs256Jwt(rs512, () => pair.publicKey, checks)).toBeNull();
    // RFC 7515 §4.1.11: an extension the recipient does not understand, marked critical, fails the token.
    const crit = b64({ alg: 'RS256', typ: 'at+jwt', crit: ['x-ext'], 'x-ext': 1 });
    const critical = `${crit}.${p}.${rsaSign('sha256', Buffer.from(`${crit}.${p}`), pair.privateKey).toString('base64url')}`;
    expect(verifyRs256Jwt(critical, () => pair.publicKey, checks)).toBeNull();
    expect(await jose(critical, pair.publicKey)).toBe(false);
  });

  it('refuses a key too short for RS256, or not an RSA public key', async () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const hdr = b64({ alg: 'RS256', typ: 'at+jwt' });
    const p = b64(claims);
    const token = `${hdr}.${p}.${rsaSign('sha256', Buffer.from(`${hdr}.${p}`), small.privateKey).toString('base64url')}`;
    expect(verifyRs256Jwt(token, () => small.publicKey, checks)).toBeNull();
    expect(verifyRs256Jwt(token, () => small.privateKey, checks)).toBeNull();
    expect(verifyRs256Jwt(await sign(), () => { throw new Error('no key'); }, checks)).toBeNull();
  });

  it('refuses the wrong typ, issuer or audience, and a missing required claim', async () => {
    await agree(await sign(claims, { alg: 'RS256', typ: 'JWT' }), false);
    await agree(await sign(claims, { alg: 'RS256' }), false);
    await agree(await sign({ ...claims, iss: 'https://as.example/t/other' }), false);
    await agree(await sign({ ...claims, aud: 'https://as.example/t/acme/scim/v2' }), false);
    await agree(await sign({ ...claims, aud: ['https://as.example/t/acme/scim/v2'] }), false);
    for (const claim of ['iss', 'aud', 'sub', 'client_id', 'jti', 'iat', 'exp']) await agree(await sign({ ...claims, [claim]: undefined }), false);
  });

  it('refuses an expired token (exp exclusive), one not yet valid, and dates that are not numbers', async () => {
    await agree(await sign({ ...claims, exp: nowS }), false);
    await agree(await sign({ ...claims, exp: nowS + 1 }), true);
    await agree(await sign({ ...claims, nbf: nowS + 1 }), false);
    for (const claim of ['exp', 'iat', 'nbf']) await agree(await sign({ ...claims, [claim]: String(nowS + 600) }), false);
  });

  it('refuses what is not a compact JWS of JSON objects, and segments with characters outside base64url', async () => {
    const token = await sign();
    const [h, p, s] = token.split('.') as [string, string, string];
    for (const junk of ['', 'x', `${h}.${p}`, `${token}.x`, `${h}..${s}`, `${h}.${p}.${s}=`, `${h}.${p}.${s.slice(0, 10)}+${s.slice(11)}`, ` ${token}`]) {
      expect(verifyRs256Jwt(junk, keyOf, checks), junk).toBeNull();
    }
    // A valid signature over a header or payload that is not a JSON object (made here, so the signature holds).
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signed = (hh: string, pp: string) => `${hh}.${pp}.${rsaSign('sha256', Buffer.from(`${hh}.${pp}`), pair.privateKey).toString('base64url')}`;
    const hdr = b64({ alg: 'RS256', typ: 'at+jwt' });
    expect(verifyRs256Jwt(signed(hdr, b64(claims)), () => pair.publicKey, checks)).not.toBeNull();
    for (const bad of [b64('[1]'), b64('null'), b64('"x"'), b64('{'), Buffer.from([0xff, 0xfe]).toString('base64url')]) {
      expect(verifyRs256Jwt(signed(hdr, bad), () => pair.publicKey, checks), bad).toBeNull();
      expect(verifyRs256Jwt(signed(bad, b64(claims)), () => pair.publicKey, checks), bad).toBeNull();
    }
  });

  it('refuses what only its own guard would catch: a mislabelled alg, a private key, a non-numeric nbf, junk before a segment, invalid UTF-8', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    /** Signed here with RS256 whatever the header says; a Buffer payload is encoded as it is (any bytes). */
    const signed = (hh: string, pp: string | Buffer) => {
      const text = `${hh}.${Buffer.isBuffer(pp) ? pp.toString('base64url') : pp}`;
      return `${text}.${rsaSign('sha256', Buffer.from(text), pair.privateKey).toString('base64url')}`;
    };
    const hdr = b64({ alg: 'RS256', typ: 'at+jwt' });
    const good = signed(hdr, b64(claims));
    expect(verifyRs256Jwt(good, () => pair.publicKey, checks)).not.toBeNull();
    // An RS256 signature under a header that names another algorithm is not an RS256 token (RFC 7515 §5.2 step 8).
    const rs512 = b64({ alg: 'RS512', typ: 'at+jwt' });
    expect(verifyRs256Jwt(signed(rs512, b64(claims)), () => pair.publicKey, checks)).toBeNull();
    expect(await jose(signed(rs512, b64(claims)), pair.publicKey)).toBe(false);
    // A selector that hands back a private key is a bug, never a way to verify.
    expect(verifyRs256Jwt(good, () => pair.privateKey, checks)).toBeNull();
    // nbf that is not a NumericDate (RFC 7519 §4.1.5) is refused, not compared as NaN.
    const soon = signed(hdr, b64({ ...claims, nbf: 'soon' }));
    expect(verifyRs256Jwt(soon, () => pair.publicKey, checks)).toBeNull();
    expect(await jose(soon, pair.publicKey)).toBe(false);
    // Junk before a segment: Buffer's base64url decoder would skip it, so the signature would still hold.
    const [h, p, sig] = good.split('.') as [string, string, string];
    for (const junk of [`${h}.${p}.*${sig}`, `${h}.${p}.=${sig}`, `${h}.${p}. ${sig}`]) expect(verifyRs256Jwt(junk, () => pair.publicKey, checks), junk).toBeNull();
    // A claim whose bytes are not UTF-8 (RFC 7519 §7.2 step 10) is refused, not read with U+FFFD in it.
    const json = Buffer.from(JSON.stringify({ ...claims, sub: 'usr_X' }));
    json[json.indexOf('usr_X') + 4] = 0xff;
    expect(verifyRs256Jwt(signed(hdr, json), () => pair.publicKey, checks)).toBeNull();
  });
});
