import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { contentUpstreams, type ContentUpstream } from './content-upstreams.js';
import { resourceSubscriptions } from './resource-subscriptions.js';
import { gatewayName, gatewayUri, upstreamNameOf, upstreamUriOf } from './upstream-names.js';

/** MCP 2025-11-25 "Resources", error handling: resource not found. */
export const RESOURCE_NOT_FOUND = -32002;
/** Pages read per upstream for one list (a hostile upstream must not loop us forever). */
const MAX_PAGES = 20;

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The caller of one prompts/resources request: who, and the transport's signal. */
export interface ContentCaller {
  userId: string;
  clientId: string;
  signal: AbortSignal;
  request?: { ip?: string; userAgent?: string; requestId?: string };
  /** The client's gateway MCP session: resource updates are addressed to it. */
  sessionId?: string;
}

/** Every item of a paginated upstream list (`prompts/list`, `resources/list`, `resources/templates/list`). */
async function listAll(s: Services, t: TenantCtx, up: ContentUpstream, method: string, key: string, signal: AbortSignal, userId: string): Promise<Obj[]> {
  const items: Obj[] = [];
  let cursor: unknown;
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await s.upstreams.request(t, up, method, typeof cursor === 'string' ? { cursor } : {}, signal, userId);
    if (Array.isArray(res[key])) items.push(...(res[key] as unknown[]).filter(isObject));
    cursor = res.nextCursor;
    if (typeof cursor !== 'string' || !cursor) break;
  }
  return items;
}

/**
 * One list over every upstream whose content the user may use, names and URIs namespaced. An upstream that fails is
 * left out (logged) so the others still list: the client sees what is reachable now.
 */
async function aggregate(s: Services, t: TenantCtx, who: ContentCaller, method: string, key: string, rename: (up: ContentUpstream, item: Obj) => Obj | null) {
  const ups = await contentUpstreams(t, who.userId);
  const lists = await Promise.all(
    ups.map((up) =>
      listAll(s, t, up, method, key, who.signal, who.userId).then(
        (items) => items.map((item) => rename(up, item)).filter((x): x is Obj => x !== null),
        (err: unknown) => {
          s.logger.info({ tenantId: t.id, upstream: up.name, method, err: String(err).slice(0, 300) }, 'upstream content list failed');
          return [];
        },
      ),
    ),
  );
  return lists.flat();
}

const renamed = (field: string, map: (prefix: string, v: string) => string) => (up: ContentUpstream, item: Obj) =>
  typeof item[field] === 'string' ? { ...item, [field]: map(up.prefix, item[field]) } : null;

export const listPrompts = async (s: Services, t: TenantCtx, who: ContentCaller) => ({
  prompts: await aggregate(s, t, who, 'prompts/list', 'prompts', renamed('name', gatewayName)),
});

export const listResources = async (s: Services, t: TenantCtx, who: ContentCaller) => ({
  resources: await aggregate(s, t, who, 'resources/list', 'resources', renamed('uri', gatewayUri)),
});

export const listResourceTemplates = async (s: Services, t: TenantCtx, who: ContentCaller) => ({
  resourceTemplates: await aggregate(s, t, who, 'resources/templates/list', 'resourceTemplates', renamed('uriTemplate', gatewayUri)),
});

/**
 * The upstream a gateway name or URI belongs to, among those the user may use now, and the upstream's own name for
 * it. Prefixed upstreams are tried first (longest prefix first); the unprefixed one, if any, takes the rest. A name
 * of an upstream the user may not use matches nothing, exactly like a name that does not exist.
 */
async function route(t: TenantCtx, userId: string, value: string, strip: (prefix: string, v: string) => string | null) {
  for (const up of await contentUpstreams(t, userId)) {
    const own = strip(up.prefix, value);
    if (own !== null) return { up, own };
  }
  return null;
}

/** URIs inside results (read contents, embedded resources, resource links) are namespaced like listed ones. */
function namespaceUris(prefix: string, value: unknown, depth = 0): unknown {
  if (!prefix || depth > 6) return value;
  if (Array.isArray(value)) return value.map((v) => namespaceUris(prefix, v, depth + 1));
  if (!isObject(value)) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) out[k] = k === 'uri' && typeof v === 'string' ? gatewayUri(prefix, v) : namespaceUris(prefix, v, depth + 1);
  return out;
}

/** Upstream failures as the client sees them: the upstream's JSON-RPC error (one line), or "unreachable". */
function relayedError(err: unknown): McpError {
  if (err instanceof McpError && err.code !== ErrorCode.ConnectionClosed && err.code !== ErrorCode.RequestTimeout) {
    return new McpError(err.code, (err.message.split('\n')[0] ?? '').replace(/^MCP error -?\d+: /, '').slice(0, 200));
  }
  return new McpError(ErrorCode.InternalError, 'The server behind this item is unreachable. Try again later.');
}

async function forward(s: Services, t: TenantCtx, who: ContentCaller, up: ContentUpstream, method: string, params: Obj, audit: { action: string; item: string }) {
  let outcome: 'success' | 'failure' = 'failure';
  try {
    const result = await s.upstreams.request(t, up, method, params, who.signal, who.userId);
    outcome = 'success';
    return result;
  } catch (err) {
    throw relayedError(err);
  } finally {
    await s.audit.recordInBackground(t, {
      actor: { kind: 'user', id: who.userId },
      action: audit.action,
      target: { kind: 'upstream', id: up.id },
      outcome,
      request: who.request ?? {},
      detail: { item: audit.item.slice(0, 256), clientId: who.clientId, upstream: up.name },
    });
  }
}

export async function getPrompt(s: Services, t: TenantCtx, who: ContentCaller, name: string, args: Obj | undefined) {
  const hit = await route(t, who.userId, name, upstreamNameOf);
  if (!hit) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${name.slice(0, 128)}`);
  const result = await forward(s, t, who, hit.up, 'prompts/get', { name: hit.own, ...(args && { arguments: args }) }, { action: 'mcp.prompt.get', item: name });
  return namespaceUris(hit.up.prefix, result) as Obj;
}

export async function readResource(s: Services, t: TenantCtx, who: ContentCaller, uri: string) {
  const hit = await route(t, who.userId, uri, upstreamUriOf);
  if (!hit) throw new McpError(RESOURCE_NOT_FOUND, 'Resource not found', { uri: uri.slice(0, 256) });
  const result = await forward(s, t, who, hit.up, 'resources/read', { uri: hit.own }, { action: 'mcp.resource.read', item: uri });
  return namespaceUris(hit.up.prefix, result) as Obj;
}

/**
 * resources/subscribe, forwarded to the resource's upstream and remembered on this node so the upstream's updates
 * reach this client's session (resource-subscriptions.ts); resources/unsubscribe, ended on whichever node holds it
 * (the upstream is unsubscribed there once nobody else on that upstream session still wants the resource).
 */
export async function subscription(s: Services, t: TenantCtx, who: ContentCaller, method: 'resources/subscribe' | 'resources/unsubscribe', uri: string) {
  const hit = await route(t, who.userId, uri, upstreamUriOf);
  if (!hit) throw new McpError(RESOURCE_NOT_FOUND, 'Resource not found', { uri: uri.slice(0, 256) });
  const registry = resourceSubscriptions(s);
  const action = { action: `mcp.${method.replace('/', '.')}`, item: uri };
  if (method === 'resources/subscribe') {
    await forward(s, t, who, hit.up, method, { uri: hit.own }, action);
    registry.add(t, hit.up, who.userId, who.sessionId ?? '', uri, hit.own);
  } else {
    await registry.unsubscribe(t, who.userId, who.sessionId ?? '', uri);
    await s.audit.recordInBackground(t, {
      actor: { kind: 'user', id: who.userId },
      action: action.action,
      target: { kind: 'upstream', id: hit.up.id },
      outcome: 'success',
      request: who.request ?? {},
      detail: { item: uri.slice(0, 256), clientId: who.clientId, upstream: hit.up.name },
    });
  }
  return {};
}

/** completion/complete for a prompt argument or a resource template variable, answered by its upstream. */
export async function complete(s: Services, t: TenantCtx, who: ContentCaller, params: Obj) {
  const ref = isObject(params.ref) ? params.ref : {};
  const byPrompt = ref.type === 'ref/prompt' && typeof ref.name === 'string';
  const value = byPrompt ? (ref.name as string) : typeof ref.uri === 'string' ? ref.uri : null;
  const hit = value === null ? null : await route(t, who.userId, value, byPrompt ? upstreamNameOf : upstreamUriOf);
  if (!hit) throw new McpError(ErrorCode.InvalidParams, 'Unknown prompt or resource template');
  const own = byPrompt ? { ...ref, name: hit.own } : { ...ref, uri: hit.own };
  return forward(s, t, who, hit.up, 'completion/complete', { ...params, ref: own }, { action: 'mcp.completion.complete', item: value! });
}
