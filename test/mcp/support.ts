import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, beforeAll } from 'vitest';
import { z } from 'zod';
import type { TestDbKind } from '../support/databases.js';
import type { AccessTokenInfo, AccessTokenVerifier } from '../../src/oauth/access-token.js';
import { findCommand } from '../../src/cli/commands.js';
import type { Options } from '../../src/cli/command-table.js';
import { newId } from '../../src/lib/ids.js';
import { MCP_SCOPE, mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** A stand-in for the authorization server's verifier: opaque test tokens mapped to what they grant. */
export class FakeVerifier implements AccessTokenVerifier {
  readonly tokens = new Map<string, AccessTokenInfo>();
  calls = 0;
  constructor(private readonly app: TestApp) {}

  issue(t: TenantCtx, userId: string | null, over: Partial<AccessTokenInfo> = {}): string {
    const token = `fake_${randomBytes(16).toString('base64url')}`;
    const now = this.app.clock.now();
    this.tokens.set(token, {
      tenantId: t.id,
      userId,
      clientId: 'client-a',
      tokenId: token,
      scopes: [MCP_SCOPE],
      audience: mcpResourceUrl(this.app.url, t),
      grantId: newId('grt'),
      issuedAt: now,
      expiresAt: new Date(now.getTime() + 3600_000),
      ...over,
    });
    return token;
  }

  async verify(t: TenantCtx, token: string, audience: string): Promise<AccessTokenInfo | null> {
    this.calls++;
    const info = this.tokens.get(token);
    if (!info || info.tenantId !== t.id || info.audience !== audience) return null;
    if (info.expiresAt.getTime() <= this.app.clock.now().getTime()) return null;
    if (info.userId) {
      const user = await t.db.user.findFirst({ where: { id: info.userId, active: true } });
      if (!user || (user.revokedBefore && user.revokedBefore >= info.issuedAt)) return null;
    }
    return info;
  }
}

/** Installs a fake verifier as `s.accessTokens` (what the MCP router reads on every request). */
export function useFakeVerifier(app: TestApp): FakeVerifier {
  const fake = new FakeVerifier(app);
  Object.assign(app.services, { accessTokens: fake });
  return fake;
}

export async function createUser(t: TenantCtx, userName: string, groups: string[] = []) {
  const id = newId('usr');
  await t.db.user.create({ data: { id, tenantId: t.id, userName, userNameKey: userName.toLowerCase(), email: userName, displayName: userName } });
  for (const g of groups) await addToGroup(t, id, g);
  return id;
}

export async function addToGroup(t: TenantCtx, userId: string, displayName: string) {
  const key = displayName.toLowerCase();
  const group =
    (await t.db.group.findFirst({ where: { displayNameKey: key } })) ??
    (await t.db.group.create({ data: { id: newId('grp'), tenantId: t.id, displayName, displayNameKey: key } }));
  await t.db.groupMembership.create({ data: { tenantId: t.id, groupId: group.id, userId } });
  return group.id;
}

/** Runs a CLI command in-process against the test app's services (same code path as `npm run cli`). */
export async function cli(app: TestApp, words: string, opts: Options): Promise<Record<string, unknown>> {
  const found = findCommand(words.split(' '));
  if (!found) throw new Error(`no command ${words}`);
  return (await found.command.run(app.services, opts)) as Record<string, unknown>;
}

/** The SDK's own client, connected to our endpoint with a bearer token. */
export async function connect(app: TestApp, t: TenantCtx, token: string, extraHeaders: Record<string, string> = {}) {
  const client = new Client({ name: 'test-client', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(mcpResourceUrl(app.url, t)), {
    requestInit: { headers: { authorization: `Bearer ${token}`, ...extraHeaders } },
  });
  await client.connect(transport);
  return { client, transport };
}

export interface Upstream {
  url: string;
  /** Headers of every request the upstream received. */
  seen: http.IncomingHttpHeaders[];
  /** Calls of `hang` that started, and those that were then cancelled. */
  started: string[];
  cancelled: string[];
  close(): Promise<void>;
}

/** A real upstream MCP server (the SDK's McpServer over Streamable HTTP, with sessions) on an ephemeral port. */
export async function startUpstream(port = 0): Promise<Upstream> {
  const seen: http.IncomingHttpHeaders[] = [];
  const cancelled: string[] = [];
  const started: string[] = [];
  const build = () => {
    const server = new McpServer({ name: 'upstream', version: '1.0.0' });
    server.registerTool('echo', { description: 'Echoes text', inputSchema: { text: z.string() } }, async ({ text }) => ({
      content: [{ type: 'text', text: `echo: ${text}` }],
    }));
    server.registerTool('explode', { description: 'Always throws' }, async () => {
      throw new Error('kaboom\n    at secret (/srv/upstream/internal.js:1:1)');
    });
    server.registerTool('hang', { description: 'Never answers until cancelled' }, async (extra) => {
      started.push('hang');
      await new Promise<void>((resolve) => extra.signal.addEventListener('abort', () => resolve()));
      cancelled.push('hang');
      return { content: [{ type: 'text' as const, text: 'cancelled' }] };
    });
    return server;
  };
  // Stateful, like most real upstreams: the session keeps one server, so notifications/cancelled reaches the call.
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const httpServer = http.createServer(async (req, res) => {
    seen.push(req.headers);
    const sid = req.headers['mcp-session-id'];
    let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (typeof sid === 'string' && !transport) {
      res.writeHead(404).end();
      return;
    }
    if (!transport) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomBytes(12).toString('hex'),
        enableJsonResponse: true,
        onsessioninitialized: (id) => void sessions.set(id, created),
      });
      await build().connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((resolve) => httpServer.listen(port, '127.0.0.1', resolve));
  const bound = (httpServer.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}/mcp`,
    seen,
    started,
    cancelled,
    close: () =>
      new Promise<void>((resolve) => {
        for (const tr of sessions.values()) void tr.close();
        sessions.clear();
        httpServer.closeAllConnections();
        httpServer.close(() => resolve());
      }),
  };
}

/** Registers the hooks of a suite that needs the app with a fake verifier and an upstream MCP server. */
export function useGatewayApp(kind: TestDbKind, use: (app: TestApp, fake: FakeVerifier, upstream: Upstream) => void): void {
  let app: TestApp | undefined;
  let upstream: Upstream | undefined;
  beforeAll(async () => {
    const started = await startTestApp(kind);
    app = started;
    upstream = await startUpstream();
    use(started, useFakeVerifier(started), upstream);
  });
  afterAll(async () => {
    await app?.services.upstreams.close();
    await upstream?.close();
    await app?.close();
  });
}
