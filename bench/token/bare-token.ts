// The floor of a token endpoint, in a process of its own like the application: reads the form body, signs an RFC 9068
// access token with `jose` (RS256, 2048-bit key, the same algorithm and claim set the tenant's authorization server
// issues) and returns it with an opaque refresh token. No client, code, grant or refresh-token state: the cost of
// answering a token request at all. Prints its URL on stdout.
import http from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { generateKeyPair, SignJWT } from 'jose';

const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
const TTL_S = 3600;

const server = http.createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => {
    const form = new URLSearchParams(body);
    const now = Math.floor(Date.now() / 1000);
    new SignJWT({ client_id: form.get('client_id') ?? '', scope: 'mcp', tid: 'ten_bench', gid: randomUUID() })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'bench' })
      .setIssuer(`http://${req.headers.host}/t/bench`)
      .setSubject('usr_bench')
      .setAudience(`http://${req.headers.host}/t/bench/mcp`)
      .setIssuedAt(now)
      .setExpirationTime(now + TTL_S)
      .setJti(randomUUID())
      .sign(privateKey)
      .then((accessToken) => {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ access_token: accessToken, expires_in: TTL_S, token_type: 'Bearer', scope: 'mcp', refresh_token: randomBytes(32).toString('base64url') }));
      }, () => res.writeHead(500).end());
  });
});
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
