import { CompactSign, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  checkAlg,
  checkSingleAudience,
  checkTimes,
  checkTyp,
  MAX_JWT_LENGTH,
  readHeader,
  RefusedToken,
  requireStrings,
  unverifiedIssuer,
  verifySignature,
} from '../../src/oauth/cross-app/jwt-checks.js';

const now = new Date('2026-06-01T12:00:00Z');
const t = now.getTime() / 1000;
const rules = { now, skewS: 60, maxLifetimeS: 3600 };
const refused = (fn: () => void) => expect(fn).toThrow(RefusedToken);

describe('cross-app JWT checks (pure)', () => {
  it('typ: case-insensitive, optional application/ prefix (RFC 7515 §4.1.9); anything else refused', () => {
    for (const typ of ['oauth-id-jag+jwt', 'OAuth-ID-JAG+JWT', 'application/oauth-id-jag+jwt']) expect(() => checkTyp({ typ }, 'oauth-id-jag+jwt')).not.toThrow();
    for (const typ of [undefined, '', 'jwt', 'at+jwt', 'oauth-id-jag', 'xoauth-id-jag+jwt', 'application/jwt']) refused(() => checkTyp({ typ }, 'oauth-id-jag+jwt'));
  });

  it('alg: asymmetric allow-list only', () => {
    for (const alg of ['RS256', 'PS384', 'ES256', 'EdDSA']) expect(() => checkAlg({ alg })).not.toThrow();
    for (const alg of ['none', 'None', 'HS256', 'HS512', 'RS1', '', undefined]) refused(() => checkAlg({ alg }));
  });

  it('aud: the exact issuer, as a string or a one-element array', () => {
    const iss = 'https://sso.example.com/t/acme';
    expect(() => checkSingleAudience({ aud: iss }, iss)).not.toThrow();
    expect(() => checkSingleAudience({ aud: [iss] }, iss)).not.toThrow();
    for (const aud of [undefined, [], [iss, iss], `${iss}/`, `${iss}/mcp`, 'https://sso.example.com/t/acme2', [`${iss}x`]]) refused(() => checkSingleAudience({ aud }, iss));
  });

  it('times: skew on both sides, nbf honoured, lifetime bounded, numbers required', () => {
    expect(() => checkTimes({ iat: t - 30, exp: t + 270 }, rules)).not.toThrow();
    expect(() => checkTimes({ iat: t + 59, exp: t + 300 }, rules)).not.toThrow(); // IdP clock slightly ahead
    expect(() => checkTimes({ iat: t - 400, exp: t - 59 }, rules)).not.toThrow(); // just expired, within skew
    refused(() => checkTimes({ iat: t - 400, exp: t - 61 }, rules));
    refused(() => checkTimes({ iat: t + 61, exp: t + 300 }, rules));
    refused(() => checkTimes({ iat: t, exp: t + 300, nbf: t + 120 }, rules));
    refused(() => checkTimes({ iat: t, exp: t + 3601 }, rules));
    refused(() => checkTimes({ iat: String(t), exp: t + 300 } as never, rules));
    refused(() => checkTimes({ exp: t + 300 }, rules));
  });

  it('shape: compact JWS only, size-capped, readable header', () => {
    refused(() => readHeader('a.b'));
    refused(() => readHeader('a.b.c.d.e'));
    refused(() => readHeader(`${'a'.repeat(17_000)}.b.c`));
    refused(() => readHeader('!!!.b.c'));
    expect(readHeader(`${Buffer.from('{"alg":"RS256"}').toString('base64url')}.e30.sig`)).toEqual({ alg: 'RS256' });
  });
});

/**
 * Each check on its own, with the refusal reason pinned (it is what the audit trail records, and it proves that the
 * check under test refused rather than another one), and each boundary on both sides (issue 18: mutation testing).
 */
describe('cross-app JWT checks: reasons and boundaries', () => {
  const reason = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(RefusedToken);
      return (err as RefusedToken).reason;
    }
    throw new Error('accepted');
  };
  const areason = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
    } catch (err) {
      expect(err).toBeInstanceOf(RefusedToken);
      return (err as RefusedToken).reason;
    }
    throw new Error('accepted');
  };
  const seg = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');

  it('readHeader: the size bound is exclusive, and each refusal says why', () => {
    const h = seg({ alg: 'RS256' });
    const exact = `${h}.${'a'.repeat(MAX_JWT_LENGTH - h.length - 5)}.sig`;
    expect(exact.length).toBe(MAX_JWT_LENGTH);
    expect(readHeader(exact)).toEqual({ alg: 'RS256' });
    expect(reason(() => readHeader(`${exact}x`))).toBe('token too large');
    expect(reason(() => readHeader(`${h}.e30`))).toBe('not a compact JWS');
    // Without the shape check, a two-segment token would get through to the header parser, which reads it.
    expect(reason(() => readHeader(`${h}.e30.sig.x`))).toBe('not a compact JWS');
    expect(reason(() => readHeader('!!!.b.c'))).toBe('unreadable JOSE header');
  });

  it('checkTyp: the prefix is stripped only at the start; the reason names the typ', () => {
    expect(reason(() => checkTyp({ typ: 'xapplication/oauth-id-jag+jwt' }, 'oauth-id-jag+jwt'))).toBe('typ xapplication/oauth-id-jag+jwt is not oauth-id-jag+jwt');
    expect(reason(() => checkTyp({ typ: 'oauth-id-jag+jwtapplication/' }, 'oauth-id-jag+jwt'))).toBe('typ oauth-id-jag+jwtapplication/ is not oauth-id-jag+jwt');
    expect(reason(() => checkTyp({}, 'oauth-id-jag+jwt'))).toBe('typ (none) is not oauth-id-jag+jwt');
  });

  it('checkAlg: the reason names the algorithm', () => {
    expect(reason(() => checkAlg({ alg: 'HS256' }))).toBe('alg HS256 is not allowed');
  });

  it('unverifiedIssuer: a non-empty string iss only', () => {
    expect(unverifiedIssuer(`${seg({ alg: 'RS256' })}.${seg({ iss: 'https://idp' })}.sig`)).toBe('https://idp');
    for (const iss of [undefined, '', 42, ['https://idp']]) {
      expect(reason(() => unverifiedIssuer(`${seg({ alg: 'RS256' })}.${seg({ iss })}.sig`))).toBe('iss missing');
    }
    expect(reason(() => unverifiedIssuer(`${seg({ alg: 'RS256' })}.${seg('not json')}.sig`))).toBe('unreadable claims');
  });

  it('verifySignature: allowed algorithms only, a JSON object payload only', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const keys = async () => publicKey;
    const signed = (payload: string) => new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
    expect(await verifySignature(await signed('{"sub":"a"}'), keys)).toEqual({ sub: 'a' });
    for (const payload of ['[1]', 'null', '"s"', '42', 'not json']) {
      expect(await areason(verifySignature(await signed(payload), keys))).toBe('claims are not a JSON object');
    }
    const other = (await generateKeyPair('ES256')).privateKey;
    const forged = await new CompactSign(new TextEncoder().encode('{}')).setProtectedHeader({ alg: 'ES256' }).sign(other);
    expect(await areason(verifySignature(forged, keys))).toBe('signature not verified (ERR_JWS_SIGNATURE_VERIFICATION_FAILED)');
    // HS256 with a key the caller hands out: refused by the algorithm allow-list, not by the signature.
    const secret = new TextEncoder().encode('a-shared-secret-of-32-bytes-long!');
    const hs = await new CompactSign(new TextEncoder().encode('{}')).setProtectedHeader({ alg: 'HS256' }).sign(secret);
    expect(await areason(verifySignature(hs, async () => secret))).toBe('signature not verified (ERR_JOSE_ALG_NOT_ALLOWED)');
  });

  it('requireStrings: each name must be a non-empty string', () => {
    expect(() => requireStrings({ sub: 'a', jti: 'b' }, ['sub', 'jti'])).not.toThrow();
    expect(reason(() => requireStrings({ sub: 'a' }, ['sub', 'jti']))).toBe('jti missing');
    expect(reason(() => requireStrings({ sub: '' }, ['sub']))).toBe('sub missing');
    expect(reason(() => requireStrings({ sub: 42 } as never, ['sub']))).toBe('sub missing');
    expect(reason(() => requireStrings({ sub: ['a'] } as never, ['sub']))).toBe('sub missing');
  });

  it('checkSingleAudience: the reason names the audience', () => {
    expect(reason(() => checkSingleAudience({ aud: 'x' }, 'y'))).toBe('aud "x" is not y');
    expect(reason(() => checkSingleAudience({}, 'y'))).toBe('aud null is not y');
  });

  it('checkTimes: each bound exactly at its edge, each reason', () => {
    expect(reason(() => checkTimes({ iat: t - 400, exp: t - 60 }, rules))).toBe('expired');
    expect(() => checkTimes({ iat: t - 400, exp: t - 59 }, rules)).not.toThrow();
    expect(() => checkTimes({ iat: t + 60, exp: t + 300 }, rules)).not.toThrow();
    expect(reason(() => checkTimes({ iat: t + 61, exp: t + 300 }, rules))).toBe('issued in the future');
    expect(() => checkTimes({ iat: t, exp: t + 300, nbf: t + 60 }, rules)).not.toThrow();
    expect(reason(() => checkTimes({ iat: t, exp: t + 300, nbf: t + 61 }, rules))).toBe('not yet valid');
    expect(() => checkTimes({ iat: t, exp: t + 300, nbf: t - 1000 }, rules)).not.toThrow();
    expect(reason(() => checkTimes({ iat: t, exp: t + 300, nbf: String(t - 1000) } as never, rules))).toBe('not yet valid');
    expect(() => checkTimes({ iat: t - 10, exp: t - 10 + 3600 }, rules)).not.toThrow();
    expect(reason(() => checkTimes({ iat: t - 10, exp: t - 10 + 3601 }, rules))).toBe('lifetime 3601 s exceeds 3600 s');
    expect(reason(() => checkTimes({ iat: t, exp: String(t + 300) } as never, rules))).toBe('exp or iat missing');
    expect(reason(() => checkTimes({ iat: t } as never, rules))).toBe('exp or iat missing');
  });
});
