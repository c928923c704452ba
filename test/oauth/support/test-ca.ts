import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface TestCa {
  /** PEM file of the CA (pass as DANGEROUSLY_CIMD_CA_FILE). */
  caFile: string;
  key: string;
  cert: string;
}

/** A throw-away certificate authority and a server certificate for 127.0.0.1/localhost, made with openssl. */
export function createTestCa(): TestCa {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sso-bridge-ca-'));
  const f = (name: string) => path.join(dir, name);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=sso-bridge test CA',
    '-keyout', f('ca.key'), '-out', f('ca.pem'));
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('srv.key'), '-out', f('srv.csr'));
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  ssl('x509', '-req', '-in', f('srv.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('ext.cnf'), '-out', f('srv.pem'));
  return { caFile: f('ca.pem'), key: readFileSync(f('srv.key'), 'utf8'), cert: readFileSync(f('srv.pem'), 'utf8') };
}

export interface CimdRoute {
  body?: unknown;
  redirectTo?: string;
  hang?: boolean;
  /** Raw body sent chunked, without Content-Length. */
  chunked?: string;
}

export interface CimdServer {
  /** https://127.0.0.1:PORT */
  origin: string;
  /** host:port, for DANGEROUSLY_ALLOW_CIMD_HOSTS. */
  host: string;
  /** Serve `body` (JSON) at `path`, or a redirect when `redirectTo` is set. */
  route(path: string, response: CimdRoute): void;
  /** Requests received, by path (proves a refused fetch never reached the server, or did). */
  hits: Map<string, number>;
  close(): Promise<void>;
}

/** An https server for Client ID Metadata Documents, with a certificate from the test CA. */
export async function startCimdServer(ca: TestCa): Promise<CimdServer> {
  const routes = new Map<string, CimdRoute>();
  const hits = new Map<string, number>();
  const server = https.createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
    const r = routes.get(req.url ?? '');
    if (!r) return void res.writeHead(404).end();
    if (r.hang) return; // never answers: only the client's timeout ends the request
    if (r.chunked !== undefined) {
      // No Content-Length: the size limit must be enforced while reading, not from the header.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(r.chunked);
      return void res.end();
    }
    if (r.redirectTo) return void res.writeHead(302, { location: r.redirectTo }).end();
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' }).end(JSON.stringify(r.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `https://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    route: (p, r) => routes.set(p, r),
    hits,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
