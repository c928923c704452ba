import type { ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Services } from '../services.js';
import type { AccessTokenInfo } from '../oauth/access-token.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { PendingElicitations } from './pending-elicitations.js';
import { contentUpstreams } from '../tools/content-upstreams.js';

const MAX_TIMER = 2 ** 31 - 1;

/**
 * `notifications/elicitation/complete` (MCP 2025-11-25) for the session's pending connect elicitations, once the
 * connection is usable (the same event also means refreshed or disconnected). Sent on the GET stream through the
 * transport: the per-request server never saw the client's initialize, so it cannot check the capability itself —
 * the elicitation was only ever made for a session that declared URL mode.
 */
async function completeElicitations(t: TenantCtx, userId: string, upstreamId: string, sessionId: string, elicitations: PendingElicitations, transport: StreamableHTTPServerTransport) {
  const conn = await t.db.upstreamConnection.findFirst({ where: { upstreamId, userId }, select: { status: true } }).catch(() => null);
  if (conn?.status !== 'connected') return;
  for (const elicitationId of elicitations.take(t.id, userId, upstreamId, sessionId)) {
    await transport.send({ jsonrpc: '2.0', method: 'notifications/elicitation/complete', params: { elicitationId } }).catch(() => undefined);
  }
}

/** Only a user whose content upstreams include this one now (approval and membership read per event) hears it. */
async function announceContentChange(t: TenantCtx, userId: string, upstreamId: string, kind: 'prompts' | 'resources', server: Server) {
  const visible = await contentUpstreams(t, userId).catch(() => []);
  if (!visible.some((u) => u.id === upstreamId)) return;
  await (kind === 'prompts' ? server.sendPromptListChanged() : server.sendResourceListChanged()).catch(() => undefined);
}

/**
 * Keeps a long-lived GET stream honest: announces tool-list changes (notifications/tools/list_changed) when admins
 * approve or revoke tools or the user's groups change, and ends the stream when the user or grant is revoked or the
 * token expires — the client must then come back with a valid token. Also carries `notifications/resources/updated`
 * for the upstream resources this session subscribed to, and upstreams' prompt and resource list changes the user may
 * see. Events reach every node through the bus.
 */
export function watchStream(
  s: Services,
  t: TenantCtx,
  info: AccessTokenInfo,
  sessionId: string | undefined,
  server: Server,
  transport: StreamableHTTPServerTransport,
  res: ServerResponse,
  elicitations?: PendingElicitations,
): void {
  const end = () => void transport.close();
  const unsubscribe = s.bus.subscribe((e) => {
    // After a gap in the bus a revocation of this user may have been missed: the client reconnects and is re-checked.
    if (e.type === 'bus.resumed') return end();
    if (e.tenantId !== t.id) return;
    // An upstream resource this very session subscribed to changed (src/tools/resource-subscriptions.ts).
    if (e.type === 'mcp.resource.updated') {
      if (e.userId === info.userId && e.sessionId === (sessionId ?? '')) server.sendResourceUpdated({ uri: e.uri }).catch(() => undefined);
      return;
    }
    // An upstream's prompts or resources changed (src/tools/upstream-list-changes.ts): told to users who may see them.
    if (e.type === 'mcp.content.list-changed') {
      if (info.userId !== null && (e.userId === null || e.userId === info.userId)) void announceContentChange(t, info.userId, e.upstreamId, e.kind, server);
      return;
    }
    // The user connected an upstream this session was asked to connect (URL elicitation, -32042): announce it.
    if (e.type === 'upstream-connection.changed') {
      if (elicitations && sessionId !== undefined && e.userId === info.userId && elicitations.has(t.id, e.userId, e.upstreamId, sessionId)) {
        void completeElicitations(t, e.userId, e.upstreamId, sessionId, elicitations, transport);
      }
      return;
    }
    if (
      e.type === 'tools.changed' ||
      (e.type === 'user.changed' && e.userId === info.userId) ||
      (e.type === 'members.changed' && info.userId !== null && (e.userIds === null || e.userIds.includes(info.userId)))
    ) {
      server.sendToolListChanged().catch(() => undefined);
      // Content approval travels on the same event (approve-content.ts); a client re-lists what it uses.
      if (e.type === 'tools.changed') {
        server.sendPromptListChanged().catch(() => undefined);
        server.sendResourceListChanged().catch(() => undefined);
      }
    } else if ((e.type === 'user.revoked' && e.userId === info.userId) || (e.type === 'grant.revoked' && e.grantId === info.grantId) ||
      (e.type === 'token.revoked' && e.tokenId === info.tokenId) || e.type === 'tenant.changed') {
      end();
    }
  });
  const expiry = setTimeout(end, Math.min(MAX_TIMER, Math.max(0, info.expiresAt.getTime() - s.clock.now().getTime())));
  res.on('close', () => {
    unsubscribe();
    clearTimeout(expiry);
  });
}
