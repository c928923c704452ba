import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CompleteResult,
  type GetPromptResult,
  type ListPromptsResult,
  type ListResourcesResult,
  type ListResourceTemplatesResult,
  type ReadResourceResult,
} from '@modelcontextprotocol/sdk/types.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import * as content from '../tools/upstream-content.js';
import type { McpPrincipal } from './build-mcp-server.js';

/** What the gateway declares beyond tools: upstream prompts and resources (approved per upstream), completion, logging. */
export const contentCapabilities = {
  prompts: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  completions: {},
  logging: {},
};

/**
 * Prompts, resources and completion of the upstreams whose content the caller may use (src/tools/upstream-content.ts):
 * decided per request from current approval and membership, like tools. The SDK validates what it returns.
 */
export function registerContentHandlers(server: Server, s: Services, t: TenantCtx, who: McpPrincipal): void {
  const caller = (signal: AbortSignal): content.ContentCaller => ({
    userId: who.userId,
    clientId: who.clientId,
    signal,
    request: who.request,
    ...(who.sessionId !== undefined && { sessionId: who.sessionId }),
  });
  server.setRequestHandler(ListPromptsRequestSchema, async (_r, x) => (await content.listPrompts(s, t, caller(x.signal))) as ListPromptsResult);
  server.setRequestHandler(GetPromptRequestSchema, async (r, x) => (await content.getPrompt(s, t, caller(x.signal), r.params.name, r.params.arguments)) as GetPromptResult);
  server.setRequestHandler(ListResourcesRequestSchema, async (_r, x) => (await content.listResources(s, t, caller(x.signal))) as ListResourcesResult);
  server.setRequestHandler(
    ListResourceTemplatesRequestSchema,
    async (_r, x) => (await content.listResourceTemplates(s, t, caller(x.signal))) as ListResourceTemplatesResult,
  );
  server.setRequestHandler(ReadResourceRequestSchema, async (r, x) => (await content.readResource(s, t, caller(x.signal), r.params.uri)) as ReadResourceResult);
  server.setRequestHandler(SubscribeRequestSchema, (r, x) => content.subscription(s, t, caller(x.signal), 'resources/subscribe', r.params.uri));
  server.setRequestHandler(UnsubscribeRequestSchema, (r, x) => content.subscription(s, t, caller(x.signal), 'resources/unsubscribe', r.params.uri));
  server.setRequestHandler(CompleteRequestSchema, async (r, x) => (await content.complete(s, t, caller(x.signal), r.params as Record<string, unknown>)) as CompleteResult);
  // The level is kept per client session on every node and applied to the log messages relayed from its calls
  // (log-levels.ts); not set upstream, where a static upstream's session is shared by every user.
  server.setRequestHandler(SetLevelRequestSchema, async (r) => {
    if (who.sessionId !== undefined) await s.bus.publish({ type: 'mcp.log-level', tenantId: t.id, sessionId: who.sessionId, level: r.params.level });
    return {};
  });
}
