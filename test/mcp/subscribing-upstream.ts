import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SubscribeRequestSchema, UnsubscribeRequestSchema, type LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import type { TestApp } from '../support/test-app.js';
import type { CallCredentials, CredentialsProvider, UpstreamRef } from '../../src/tools/upstream-pool.js';

export interface SubscribingUpstream {
  url: string;
  /** Every subscribe / unsubscribe it received: `subscribe note://a @ {authorization}`. */
  log: string[];
  /** Sends `notifications/resources/updated` for `uri` on every session subscribed to it (on its GET stream). */
  touch(uri: string): Promise<void>;
  /** Changes the `chatty` tool's description: every open session hears `notifications/tools/list_changed`. */
  changeTool(description: string): Promise<void>;
  /** Sends `notifications/{kind}/list_changed` on every open session. */
  announce(kind: 'tools' | 'prompts' | 'resources'): Promise<void>;
  /** Sessions opened so far (each tools re-listing by the gateway opens one). */
  sessionsOpened(): number;
  /** The Authorization header each session was opened with, in order. */
  sessionAuth: string[];
  close(): Promise<void>;
}

/**
 * An upstream MCP server (the SDK's, sessions) with subscribable resources `note://a` and `note://b`, and a `chatty`
 * tool that logs one message at each of debug, info, warning and error during the call, and a `hello` prompt.
 */
export async function startSubscribingUpstream(): Promise<SubscribingUpstream> {
  const log: string[] = [];
  const sessionAuth: string[] = [];
  /** Session id → its server and the URIs it subscribed to. */
  const sessions = new Map<string, { server: McpServer; uris: Set<string>; transport: StreamableHTTPServerTransport; chatty: RegisteredTool }>();
  let description = 'Logs at four levels';
  const build = (holder: { uris: Set<string>; chatty?: RegisteredTool }, auth: () => string) => {
    const server = new McpServer({ name: 'subscribing-upstream', version: '1.0.0' }, { capabilities: { logging: {}, resources: { subscribe: true } } });
    server.registerPrompt('hello', { description: 'Says hello' }, () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'hello' } }] }));
    for (const name of ['a', 'b']) {
      server.registerResource(`note-${name}`, `note://${name}`, { mimeType: 'text/plain' }, async (uri) => ({ contents: [{ uri: uri.href, text: `note ${name}` }] }));
    }
    server.server.setRequestHandler(SubscribeRequestSchema, async (r) => {
      log.push(`subscribe ${r.params.uri} @ ${auth()}`);
      holder.uris.add(r.params.uri);
      return {};
    });
    server.server.setRequestHandler(UnsubscribeRequestSchema, async (r) => {
      log.push(`unsubscribe ${r.params.uri} @ ${auth()}`);
      holder.uris.delete(r.params.uri);
      return {};
    });
    holder.chatty = server.registerTool('chatty', { description, inputSchema: {} }, async (_a, extra) => {
      for (const level of ['debug', 'info', 'warning', 'error'] as LoggingLevel[]) {
        await extra.sendNotification({ method: 'notifications/message', params: { level, data: `${level} message` } });
      }
      return { content: [{ type: 'text', text: 'done' }] };
    });
    return server;
  };
  const httpServer = http.createServer(async (req, res) => {
    const sid = req.headers['mcp-session-id'];
    const existing = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (typeof sid === 'string' && !existing) return void res.writeHead(404).end();
    if (existing) return existing.transport.handleRequest(req, res);
    const authorization = String(req.headers.authorization ?? '');
    sessionAuth.push(authorization);
    const holder: { uris: Set<string>; chatty?: RegisteredTool } = { uris: new Set<string>() };
    const server = build(holder, () => authorization);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      // SSE answers: a call's log messages travel on its own stream, before its result.
      sessionIdGenerator: () => randomBytes(12).toString('hex'),
      onsessioninitialized: (id) => void sessions.set(id, { server, uris: holder.uris, transport, chatty: holder.chatty! }),
    });
    await server.connect(transport);
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/mcp`,
    log,
    touch: async (uri) => {
      for (const s of sessions.values()) if (s.uris.has(uri)) await s.server.server.sendResourceUpdated({ uri });
    },
    changeTool: async (next) => {
      description = next;
      // update() announces the change on each connected session (sessions the gateway closed are not connected).
      for (const s of sessions.values()) s.chatty.update({ description: next });
    },
    announce: async (kind) => {
      for (const s of sessions.values()) {
        const send = kind === 'tools' ? s.server.sendToolListChanged() : kind === 'prompts' ? s.server.sendPromptListChanged() : s.server.sendResourceListChanged();
        await Promise.resolve(send).catch(() => undefined);
      }
    },
    sessionsOpened: () => sessions.size,
    sessionAuth,
    close: async () => {
      for (const s of sessions.values()) await s.transport.close();
      httpServer.closeAllConnections();
      await new Promise<void>((r) => httpServer.close(() => r()));
    },
  };
}

/** Hands each user an Authorization header of their own (what src/upstream-auth does from the vault). */
class PerUserTokens implements CredentialsProvider {
  async forCall(_t: TenantCtx, up: UpstreamRef, userId: string): Promise<CallCredentials> {
    return { key: `${up.id}\u0000${userId}`, version: 'v1', headers: { Authorization: `Bearer of-${userId}` } };
  }
  async rejected() {}
}

/** Runs `fn` with upstream `name` of `t` made per-user, each user calling it with their own header (PerUserTokens). */
export async function asPerUserUpstream(app: TestApp, t: TenantCtx, name: string, fn: () => Promise<void>): Promise<void> {
  await t.db.upstream.updateMany({ where: { name }, data: { authMode: 'oauth-per-user' } });
  const saved = app.services.upstreams.credentials;
  app.services.upstreams.credentials = new PerUserTokens();
  try {
    await fn();
  } finally {
    app.services.upstreams.credentials = saved;
  }
}
