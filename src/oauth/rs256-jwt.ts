import { constants, verify, type KeyObject } from 'node:crypto';
import type { JWTHeaderParameters, JWTPayload } from 'jose';

/** The verification key a token's protected header names, or a throw when the key set has none for it. */
export type KeySelector = (header: JWTHeaderParameters) => KeyObject;

export interface Rs256JwtChecks {
  /** Exact `iss` (RFC 7519 §4.1.1). */
  issuer: string;
  /** `aud` must be this string or an array containing it (RFC 7519 §4.1.3); callers may demand more. */
  audience: string;
  /** The `typ` header, compared as a media type (RFC 7515 §4.1.9: "application/" may be omitted, case-insensitive). */
  typ: string;
  /** The application clock, in ms: `exp` must be after it, `nbf` (if present) not after it (no leeway). */
  now: number;
  /** Claims that must be present (besides iss and aud). */
  requiredClaims: readonly string[];
}

/** base64url without padding (RFC 7515 §2), the only encoding a compact JWS may use; Buffer's decoder would skip junk. */
const SEGMENT = /^[A-Za-z0-9_-]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function jsonObject(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const mediaType = (typ: string) => (typ.includes('/') ? typ.toLowerCase() : `application/${typ.toLowerCase()}`);
const numericDate = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * A compact RS256 JWT verified and its claims checked, SYNCHRONOUSLY, with node:crypto: the claims, or null for any
 * failure. jose's `jwtVerify` checks the signature with WebCrypto, which Node runs as a job on the libuv thread pool:
 * each first token check then waits for a pool thread to be woken and scheduled and for the main thread to be woken
 * again, two hand-offs between threads that, on a busy 2-core machine, made the tail of a cold MCP request (issue 17
 * §2, decision 0054: after 150 ms idle at load ~20, p99 22.6 ms against 3.6 ms for the same check done in line). The
 * RSA-2048 public operation itself is ~50 µs. What jose checked for our options is checked here, no less:
 * RFC 7515 §5.2 (three base64url segments, a JSON object header, alg RS256 only — never "none" nor an HMAC over the
 * public key — `crit` refused since we understand no extension, the signature over the exact received text), then
 * RFC 7519 §7.2 / RFC 9068 §4 (payload a JSON object, `typ`, `iss`, `aud`, required claims present, `exp` after now,
 * `nbf` not after it, numeric dates numbers). Key selection (kid) is the caller's `keyOf`.
 */
export function verifyRs256Jwt(token: string, keyOf: KeySelector, checks: Rs256JwtChecks): JWTPayload | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [h, p, s] = parts as [string, string, string];
  if (!SEGMENT.test(h) || !SEGMENT.test(p) || !SEGMENT.test(s)) return null;
  const header = jsonObject(h);
  if (!header || header.alg !== 'RS256' || header.crit !== undefined) return null;
  if (typeof header.typ !== 'string' || mediaType(header.typ) !== mediaType(checks.typ)) return null;
  let key: KeyObject;
  try {
    key = keyOf(header as JWTHeaderParameters);
  } catch {
    return null;
  }
  if (key.type !== 'public' || key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return null;
  let signed: boolean;
  try {
    signed = verify('sha256', Buffer.from(`${h}.${p}`, 'ascii'), { key, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(s, 'base64url'));
  } catch {
    return null;
  }
  if (!signed) return null;
  const claims = jsonObject(p);
  if (!claims) return null;
  for (const claim of ['iss', 'aud', ...checks.requiredClaims]) if (!Object.hasOwn(claims, claim)) return null;
  if (claims.iss !== checks.issuer) return null;
  const aud = claims.aud;
  if (!(aud === checks.audience || (Array.isArray(aud) && aud.includes(checks.audience)))) return null;
  const now = Math.floor(checks.now / 1000);
  for (const claim of ['exp', 'nbf', 'iat']) if (claims[claim] !== undefined && !numericDate(claims[claim])) return null;
  if (claims.exp !== undefined && (claims.exp as number) <= now) return null;
  if (claims.nbf !== undefined && (claims.nbf as number) > now) return null;
  return claims as JWTPayload;
}
