import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload, type CryptoKey } from 'jose';

export interface Minted {
  header: Record<string, unknown>;
  claims: JWTPayload & Record<string, unknown>;
  /** 'good' = our published key, 'rogue' = a key not in the JWKS, 'none' = alg none (unsigned). */
  signer: 'good' | 'rogue' | 'none';
}

/**
 * A scriptable OIDC provider for hostile tests: discovery, JWKS, an authorization endpoint that answers at once,
 * and a token endpoint whose ID token each test may tamper with (claims, header, signing key).
 */
export async function startEvilIdp() {
  const good = await generateKeyPair('RS256', { extractable: true });
  const rogue = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(good.publicKey)), kid: 'good-key', alg: 'RS256', use: 'sig' };
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const state = {
    nonce: '',
    tamper: (m: Minted) => m,
    clientId: 'evil-client',
    sub: 'evil-user',
    email: 'evil@example.com',
    userinfo: {} as Record<string, unknown>,
    /** Status answered by the JWKS and token endpoints (a 503 plays an IdP that is down), and how often each was hit. */
    jwksStatus: 200,
    tokenStatus: 200,
    hits: { jwks: 0, token: 0 },
  };

  async function idToken(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const m = state.tamper({
      header: { alg: 'RS256', kid: 'good-key' },
      claims: { iss: issuer, aud: state.clientId, sub: state.sub, email: state.email, iat: now, exp: now + 300, nonce: state.nonce },
      signer: 'good',
    });
    if (m.signer === 'none') {
      const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${enc({ ...m.header, alg: 'none' })}.${enc(m.claims)}.`;
    }
    const key: CryptoKey = m.signer === 'rogue' ? rogue.privateKey : good.privateKey;
    return new SignJWT(m.claims).setProtectedHeader(m.header as { alg: string }).sign(key);
  }

  server.on('request', async (req, res) => {
    const url = new URL(req.url!, issuer);
    const json = (o: unknown) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(o));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json({
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        userinfo_endpoint: `${issuer}/userinfo`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      });
    }
    if (url.pathname === '/jwks') {
      state.hits.jwks++;
      if (state.jwksStatus !== 200) return void ((res.statusCode = state.jwksStatus), res.end());
      return json({ keys: [jwk] });
    }
    if (url.pathname === '/userinfo') {
      if (req.headers.authorization !== 'Bearer at-123') return void ((res.statusCode = 401), res.end());
      return json({ sub: state.sub, ...state.userinfo });
    }
    if (url.pathname === '/authorize') {
      state.nonce = url.searchParams.get('nonce') ?? '';
      const back = new URL(url.searchParams.get('redirect_uri')!);
      back.searchParams.set('code', 'code-123');
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.statusCode = 302;
      res.setHeader('location', back.href);
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      for await (const _chunk of req) void _chunk;
      state.hits.token++;
      if (state.tokenStatus !== 200) return void ((res.statusCode = state.tokenStatus), res.end());
      return json({ access_token: 'at-123', token_type: 'Bearer', expires_in: 300, id_token: await idToken() });
    }
    res.statusCode = 404;
    res.end();
  });
  return { issuer, state, close: () => new Promise<void>((r) => server.close(() => r())) };
}
