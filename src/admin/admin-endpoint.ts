import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { AppError } from '../lib/errors.js';
import { safeEqual } from '../lib/secrets.js';
import { writeLines } from '../lib/write-lines.js';
import type { Services } from '../services.js';
import { commands } from '../cli/commands.js';
import { describeError } from '../cli/describe-error.js';
import { Lines, LINES_HEADER } from '../cli/line-output.js';

/**
 * PGlite lets one process open a data directory, so while the server runs in embedded mode the CLI cannot open the
 * database itself. Instead it sends its (already parsed) command here: a listener bound to 127.0.0.1 only, on a
 * random port, authenticated by a secret in DATA_DIR (mode 0600) — whoever can read DATA_DIR could open the
 * database anyway, so this grants nothing more.
 */
export const adminFiles = (dataDir: string) => ({
  endpoint: path.join(dataDir, 'admin-endpoint.json'),
  secret: path.join(dataDir, 'admin.secret'),
});

export function adminSecret(dataDir: string): string {
  const file = adminFiles(dataDir).secret;
  if (!existsSync(file)) {
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return readFileSync(file, 'utf8').trim();
}

export async function startAdminEndpoint(s: Services): Promise<{ url: string; close(): Promise<void> }> {
  const secret = adminSecret(s.config.dataDir);
  const server = http.createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const presented = req.headers['x-admin-secret'];
    if (req.method !== 'POST' || req.url !== '/cli') return reply(404, { ok: false, error: 'not found' });
    if (typeof presented !== 'string' || !safeEqual(presented, secret)) return reply(401, { ok: false, error: 'unauthorized' });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1_000_000) req.destroy();
      else chunks.push(c);
    });
    req.on('end', async () => {
      try {
        const { command: name, options } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { command: string; options: Record<string, never> };
        const command = commands.find((c) => c.name === name && c.forwardable);
        if (!command) return reply(400, { ok: false, error: `unknown command ${name}` });
        const result = await command.run(s, options ?? {});
        if (result instanceof Lines) {
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', [LINES_HEADER]: '1' });
          return void (await writeLines(res, result.lines));
        }
        reply(200, { ok: true, result });
      } catch (err) {
        if (res.headersSent) return void res.destroy(); // mid-stream: the CLI sees a broken body, not a short export
        const { message, status } = describeError(err);
        if (status >= 500) s.logger.error({ err }, 'admin command failed');
        reply(status, { ok: false, error: message });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const file = adminFiles(s.config.dataDir).endpoint;
  writeFileSync(file, JSON.stringify({ url, pid: process.pid }), { mode: 0o600 });
  return {
    url,
    close: async () => {
      rmSync(file, { force: true });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** CLI side: runs a command on the server that holds the embedded database. */
export async function forwardToServer(dataDir: string, command: string, options: unknown): Promise<unknown> {
  const files = adminFiles(dataDir);
  let endpoint: { url: string };
  try {
    endpoint = JSON.parse(readFileSync(files.endpoint, 'utf8')) as { url: string };
  } catch {
    throw new Error(
      `The embedded database in ${dataDir} is open in a running server, but its admin endpoint is not up yet; retry in a moment.`,
    );
  }
  let res: Response;
  try {
    res = await fetch(`${endpoint.url}/cli`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-admin-secret': adminSecret(dataDir) },
      body: JSON.stringify({ command, options }),
    });
  } catch {
    throw new Error(`Could not reach the running server's admin endpoint at ${endpoint.url}`);
  }
  if (res.headers.get(LINES_HEADER) && res.body) return new Lines(readLines(res.body));
  const body = (await res.json()) as { ok: boolean; result?: unknown; error?: string };
  if (!body.ok) throw new AppError(res.status, 'remote', body.error ?? `server answered ${res.status}`);
  return body.result;
}

/** The lines of a streamed body, split on LF only (a CR inside a quoted CSV field is data). */
async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = '';
  for await (const chunk of body) {
    const parts = (rest + decoder.decode(chunk, { stream: true })).split('\n');
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest) yield rest;
}
