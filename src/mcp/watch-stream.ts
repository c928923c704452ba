import type { ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Services } from '../services.js';
import type { AccessTokenInfo } from '../oauth/access-token.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

const MAX_TIMER = 2 ** 31 - 1;

/**
 * Keeps a long-lived GET stream honest: announces tool-list changes (notifications/tools/list_changed) when admins
 * approve or revoke tools or the user's groups change, and ends the stream when the user or grant is revoked or the
 * token expires — the client must then come back with a valid token. Also carries `notifications/resources/updated`
 * for the upstream resources this session subscribed to. Events reach every node through the bus.
 */
export function watchStream(
  s: Services,
  t: TenantCtx,
  info: AccessTokenInfo,
  sessionId: string | undefined,
  server: Server,
  transport: StreamableHTTPServerTransport,
  res: ServerResponse,
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
    } else if ((e.type === 'user.revoked' && e.userId === info.userId) || (e.type === 'grant.revoked' && e.grantId === info.grantId) || e.type === 'tenant.changed') {
      end();
    }
  });
  const expiry = setTimeout(end, Math.min(MAX_TIMER, Math.max(0, info.expiresAt.getTime() - s.clock.now().getTime())));
  res.on('close', () => {
    unsubscribe();
    clearTimeout(expiry);
  });
}
