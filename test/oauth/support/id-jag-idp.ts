import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';

export interface IdJagIdp {
  issuer: string;
  /** The client id our tenant is registered with at this IdP (ID tokens' audience). */
  clientId: string;
  jwksFetches: number;
  /** Signs an ID-JAG for `claims` (iss, iat, exp, jti filled in unless given); `header` overrides the JOSE header. */
  idJag(claims: JWTPayload & Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
  /** Signs an ID token for our tenant's client at this IdP. */
  idToken(claims: JWTPayload & Record<string, unknown>): Promise<string>;
  /** The public key as published (for alg-confusion attempts). */
  publicJwk: JWK;
  /** Key rollover: a new signing key (new kid), published next to the old one. */
  rotate(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A corporate IdP that mints ID-JAGs and ID tokens, as Okta does after its own token exchange: discovery + JWKS over
 * HTTP, RS256 keys, and a signer (times from `nowMs`: pass the app's clock). Our app finds it the way SSO does (OIDC discovery at the connection's issuer).
 */
export async function startIdJagIdp(nowMs: () => number = Date.now): Promise<IdJagIdp> {
  const newKey = async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    const kid = `k-${randomBytes(4).toString('hex')}`;
    return { privateKey: pair.privateKey, kid, publicJwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'RS256', use: 'sig' } };
  };
  let { privateKey, kid, publicJwk } = await newKey();
  const published: JWK[] = [publicJwk];
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const idp: IdJagIdp = {
    issuer,
    clientId: 'sso-bridge-at-idp',
    jwksFetches: 0,
    publicJwk,
    async rotate() {
      ({ privateKey, kid, publicJwk } = await newKey());
      published.push(publicJwk);
    },
    async idJag(claims, header = {}) {
      const now = Math.floor(nowMs() / 1000);
      return new SignJWT({ iss: issuer, iat: now, exp: now + 300, jti: randomBytes(8).toString('hex'), ...claims })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'oauth-id-jag+jwt', ...header } as never)
        .sign(privateKey);
    },
    async idToken(claims) {
      const now = Math.floor(nowMs() / 1000);
      return new SignJWT({ iss: issuer, aud: idp.clientId, iat: now, exp: now + 600, ...claims }).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(privateKey);
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
  server.on('request', (req, res) => {
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/.well-known/openid-configuration') {
      return json({
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (req.url === '/jwks') {
      idp.jwksFetches++;
      return json({ keys: published });
    }
    res.writeHead(404).end();
  });
  return idp;
}
