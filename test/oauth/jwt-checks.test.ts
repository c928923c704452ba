import { describe, expect, it } from 'vitest';
import { checkAlg, checkSingleAudience, checkTimes, checkTyp, readHeader, RefusedToken } from '../../src/oauth/cross-app/jwt-checks.js';

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
