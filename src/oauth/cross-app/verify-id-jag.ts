import type { JWTVerifyGetKey } from 'jose';
import type { Connection } from '../../sso/connections/manage-connections.js';
import { ID_JAG_TYP } from './grant-types.js';
import {
  checkAlg,
  checkSingleAudience,
  checkTimes,
  checkTyp,
  readHeader,
  requireStrings,
  RefusedToken,
  unverifiedIssuer,
  verifySignature,
  type Claims,
} from './jwt-checks.js';

/** Clock drift tolerated between the IdP and us. */
export const ID_JAG_SKEW_S = 60;
/** ID-JAGs are minted for one redemption, seconds before it (IDJAG §4.3); an hour-long one is not plausible. */
export const ID_JAG_MAX_LIFETIME_S = 3600;

export interface TrustedIdp {
  conn: Connection;
  keys: JWTVerifyGetKey;
}

export interface IdJagExpectations {
  /** This tenant's issuer: the only acceptable `aud`. */
  issuer: string;
  /** This tenant's MCP resource: the only acceptable `resource`. */
  resource: string;
  /** The client that authenticated at our token endpoint. */
  clientId: string;
  now: Date;
  /** The tenant's OIDC connection marked as ID-JAG issuer for `iss`, with its keys; null when none. */
  trustedIdp(iss: string): Promise<TrustedIdp | null>;
}

export interface VerifiedIdJag {
  claims: Claims & { iss: string; sub: string; jti: string; exp: number };
  conn: Connection;
  /** The `scope` claim, split; null when the IdP sent none. */
  scopes: string[] | null;
}

/**
 * Validates an ID-JAG (draft-ietf-oauth-identity-assertion-authz-grant §4.3, §5.1; RFC 7523 §3; EMA §7), one check
 * per step, in the order of docs/cross-app-access.md. Replay (`jti`) and the subject mapping touch the database and
 * follow in redeem-id-jag.ts. Throws RefusedToken with the reason.
 */
export async function verifyIdJag(assertion: string, expect: IdJagExpectations): Promise<VerifiedIdJag> {
  const header = readHeader(assertion);
  checkTyp(header, ID_JAG_TYP);
  checkAlg(header);
  const idp = await expect.trustedIdp(unverifiedIssuer(assertion));
  if (!idp) throw new RefusedToken('issuer is not an ID-JAG issuer trusted by this tenant');
  const claims = await verifySignature(assertion, idp.keys);
  if (claims.iss !== idp.conn.issuer) throw new RefusedToken('iss changed between header and payload');
  requireStrings(claims, ['sub', 'jti', 'client_id']);
  checkSingleAudience(claims, expect.issuer);
  checkTimes(claims, { now: expect.now, skewS: ID_JAG_SKEW_S, maxLifetimeS: ID_JAG_MAX_LIFETIME_S });
  checkClient(claims, expect.clientId);
  checkResource(claims, expect.resource);
  checkNoUnsupportedBinding(claims);
  return { claims: claims as VerifiedIdJag['claims'], conn: idp.conn, scopes: scopesOf(claims) };
}

/** IDJAG §5.1: the ID-JAG was minted for the client now presenting it, not for any other client of ours. */
function checkClient(claims: Claims, clientId: string): void {
  if (claims.client_id !== clientId) throw new RefusedToken(`client_id ${String(claims.client_id)} is not the authenticated client`);
}

/** EMA §7.6: `aud` and `resource` are a bound pair; a resource of another tenant (or server) is refused. */
function checkResource(claims: Claims, resource: string): void {
  if (claims.resource === undefined) return;
  const r = Array.isArray(claims.resource) && claims.resource.length === 1 ? claims.resource[0] : claims.resource;
  if (r !== resource) throw new RefusedToken(`resource ${JSON.stringify(claims.resource)} is not ${resource}`);
}

/** Fail closed on what we cannot honour: a key-bound (`cnf`, DPoP) ID-JAG or rich authorization details. */
function checkNoUnsupportedBinding(claims: Claims): void {
  if (claims.cnf !== undefined) throw new RefusedToken('cnf-bound ID-JAGs are not supported');
  if (claims.authorization_details !== undefined) throw new RefusedToken('authorization_details are not supported');
}

function scopesOf(claims: Claims): string[] | null {
  if (claims.scope === undefined) return null;
  if (typeof claims.scope !== 'string') throw new RefusedToken('scope is not a string');
  return claims.scope.split(' ').filter(Boolean);
}
