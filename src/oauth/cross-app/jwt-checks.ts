import { compactVerify, decodeJwt, decodeProtectedHeader, type JWTPayload, type JWTVerifyGetKey, type ProtectedHeaderParameters } from 'jose';

/** A presented JWT failed one check; `reason` goes to the audit trail, never the token itself. */
export class RefusedToken extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

const refuse = (reason: string): never => {
  throw new RefusedToken(reason);
};

/**
 * Asymmetric algorithms only (RFC 8725 §3.1, §3.2): never `none`, and never HMAC, which would let anyone holding the
 * IdP's *public* key (everyone) forge a token if it were used as an HMAC secret.
 */
export const ALLOWED_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** Bigger than any real ID-JAG or ID token, small enough that parsing one costs nothing. */
export const MAX_JWT_LENGTH = 16 * 1024;

export type Claims = JWTPayload & Record<string, unknown>;

export function readHeader(token: string): ProtectedHeaderParameters {
  if (token.length > MAX_JWT_LENGTH) refuse('token too large');
  if (token.split('.').length !== 3) refuse('not a compact JWS');
  try {
    return decodeProtectedHeader(token);
  } catch {
    return refuse('unreadable JOSE header');
  }
}

/** RFC 7515 §4.1.9: `typ` compares case-insensitively and may carry the `application/` prefix. */
export function checkTyp(header: ProtectedHeaderParameters, expected: string): void {
  const typ = String(header.typ ?? '').toLowerCase().replace(/^application\//, '');
  if (typ !== expected) refuse(`typ ${String(header.typ ?? '(none)')} is not ${expected}`);
}

export function checkAlg(header: ProtectedHeaderParameters): void {
  if (!ALLOWED_ALGS.includes(String(header.alg))) refuse(`alg ${String(header.alg)} is not allowed`);
}

/** The issuer, read before the signature only to pick whose keys verify it. */
export function unverifiedIssuer(token: string): string {
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    return refuse('unreadable claims');
  }
  return typeof iss === 'string' && iss ? iss : refuse('iss missing');
}

export async function verifySignature(token: string, keys: JWTVerifyGetKey): Promise<Claims> {
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(token, keys, { algorithms: ALLOWED_ALGS }));
  } catch (err) {
    return refuse(`signature not verified (${(err as { code?: string }).code ?? (err as Error).name})`);
  }
  try {
    const claims = JSON.parse(new TextDecoder().decode(payload)) as unknown;
    if (claims && typeof claims === 'object' && !Array.isArray(claims)) return claims as Claims;
  } catch {
    // falls through
  }
  return refuse('claims are not a JSON object');
}

export function requireStrings(claims: Claims, names: string[]): void {
  for (const n of names) if (typeof claims[n] !== 'string' || !claims[n]) refuse(`${n} missing`);
}

/** `aud` is exactly `expected`: a string, or an array of exactly one element (IDJAG §4.3; EMA §7.6). */
export function checkSingleAudience(claims: Claims, expected: string): void {
  const aud = Array.isArray(claims.aud) && claims.aud.length === 1 ? claims.aud[0] : claims.aud;
  if (aud !== expected) refuse(`aud ${JSON.stringify(claims.aud ?? null)} is not ${expected}`);
}

export interface TimeRules {
  now: Date;
  skewS: number;
  /** Longest plausible exp − iat. */
  maxLifetimeS: number;
}

/** RFC 7523 §3 items 4–6: `exp` in the future, `iat` not in the future, `nbf` reached, all within the skew. */
export function checkTimes(claims: Claims, rules: TimeRules): void {
  const now = rules.now.getTime() / 1000;
  const { exp, iat, nbf } = claims;
  if (typeof exp !== 'number' || typeof iat !== 'number') return refuse('exp or iat missing');
  if (exp <= now - rules.skewS) refuse('expired');
  if (iat > now + rules.skewS) refuse('issued in the future');
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + rules.skewS)) refuse('not yet valid');
  if (exp - iat > rules.maxLifetimeS) refuse(`lifetime ${exp - iat} s exceeds ${rules.maxLifetimeS} s`);
}
