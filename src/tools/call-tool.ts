import { ErrorCode, McpError, type CallToolResult, type UrlElicitationRequiredError } from '@modelcontextprotocol/sdk/types.js';
import { CircuitOpenError } from '../lib/circuit-breaker.js';
import type { ToolOutcome } from '../metrics/metrics.js';
import { traced, tracingOn } from '../metrics/tracing.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { runConnectorTool } from '../connectors/tool-providers.js';
import { UpstreamAuthRequired } from '../upstream-auth/upstream-auth-required.js';
import { builtinTools } from './builtin-tools.js';
import type { CallRelay } from './upstream-call.js';
import { callableToolsCache, type CallableToolWithUpstream } from './callable-tools-cache.js';

export interface ToolCallContext {
  userId: string;
  clientId: string;
  /** Aborted when the MCP client cancels the request or goes away. */
  signal: AbortSignal;
  request?: { ip?: string; userAgent?: string; requestId?: string };
  /** The calling client's side of an upstream call: progress, log messages, elicitation and sampling (src/mcp/call-relay.ts). */
  relay?: CallRelay;
  /**
   * The client declared URL-mode elicitation at initialize (carried in its session id): a per-user upstream it has
   * not connected is answered with the JSON-RPC error -32042 carrying the connect URL, not a tool result.
   */
  urlElicitation?: boolean;
  /** The client's gateway MCP session (the completion of a URL elicitation is announced on its GET stream). */
  sessionId?: string;
}

/** A tool the caller may not call (unknown, unapproved, not granted): one answer for all three, so nothing leaks. */
export class UnknownToolError extends McpError {
  constructor(name: string) {
    super(ErrorCode.InvalidParams, `Unknown tool: ${name.slice(0, 128)}`);
  }
}

type Failure = 'timeout' | 'cancelled' | 'upstream_error' | 'unreachable' | 'internal' | 'tool_error' | 'auth_required';

const errorResult = (text: string): CallToolResult => ({ isError: true, content: [{ type: 'text', text }] });

/** A readable one-line message from an upstream JSON-RPC error: never a stack, never unbounded. */
const firstLine = (message: string) => (message.split('\n')[0] ?? '').replace(/^MCP error -?\d+: /, '').slice(0, 200);

/** Maps every failure of an upstream call to an MCP tool error result (MCP 2025-11-25 tools, "isError"). */
export function mapFailure(err: unknown, signal: AbortSignal, timeoutMs: number): { failure: Failure; result: CallToolResult } {
  if (signal.aborted) return { failure: 'cancelled', result: errorResult('The call was cancelled.') };
  // A per-user upstream the caller has not connected (or must reconnect): the result says so, with the link.
  if (err instanceof UpstreamAuthRequired) return { failure: 'auth_required', result: err.toolResult() };
  if (err instanceof CircuitOpenError) {
    // Failing fast: the upstream failed repeatedly, so calls are not sent until a probe succeeds (lib/circuit-breaker.ts).
    const wait = Math.max(1, Math.ceil(err.retryAfterMs / 1000));
    return { failure: 'unreachable', result: errorResult(`The server behind this tool is unavailable (it failed repeatedly). Try again in ${wait} s.`) };
  }
  if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) {
    return { failure: 'timeout', result: errorResult(`The tool did not answer within ${Math.round(timeoutMs / 1000)} s.`) };
  }
  if (err instanceof McpError && err.code !== ErrorCode.ConnectionClosed) {
    return { failure: 'upstream_error', result: errorResult(`The tool failed: ${firstLine(err.message)}`) };
  }
  return { failure: 'unreachable', result: errorResult('The server behind this tool is unreachable. Try again later.') };
}

const STACK_FRAME = /^\s+at .+(:\d+:\d+\)?|\(native\)|<anonymous>\)?)$/;

/** Upstream error results often carry the upstream's stack trace in their text: keep the message, drop the frames. */
function scrubStackFrames(result: CallToolResult): CallToolResult {
  return {
    ...result,
    content: result.content.map((c) => (c.type === 'text' ? { ...c, text: c.text.split('\n').filter((l) => !STACK_FRAME.test(l)).join('\n') } : c)),
  };
}

type Tool = CallableToolWithUpstream;

interface Ran {
  result?: CallToolResult;
  failure?: Failure;
  /** Answered instead of the result (after the audit event): URL-mode elicitation of the connect step. */
  protocolError?: UrlElicitationRequiredError;
}

async function runTool(s: Services, t: TenantCtx, ctx: ToolCallContext, tool: Tool, args: Record<string, unknown> | undefined): Promise<Ran> {
  try {
    if (tool.kind === 'builtin') {
      const builtin = builtinTools.get(tool.name);
      if (!builtin) return { failure: 'internal' as Failure, result: errorResult('This tool is not available.') };
      const granted = (await callableToolsCache(s).list(t, ctx.userId)).map((x) => x.name);
      return { result: await builtin.run(t, { userId: ctx.userId, clientId: ctx.clientId }, granted) };
    }
    // Connector tools (src/connectors) run in the gateway against the SaaS API, as the caller.
    if (tool.kind === 'connector') return { result: await runConnectorTool(s, t, ctx, tool.name, args) };
    if (!tool.upstream || !tool.upstreamToolName) return { failure: 'internal' as Failure, result: errorResult('This tool is not available.') };
    const result = await s.upstreams.callTool(t, tool.upstream, tool.upstreamToolName, args, ctx.signal, ctx.relay, ctx.userId);
    return { result: result.isError ? scrubStackFrames(result) : result };
  } catch (err) {
    const mapped: Ran = mapFailure(err, ctx.signal, s.upstreams.callTimeoutMs);
    // MCP 2025-11-25 "Elicitation", URL mode: a request that cannot proceed until the user completes an interaction
    // elsewhere MAY be answered with URLElicitationRequiredError (-32042) — only to a client that declared `url` mode.
    // A transient refresh failure has no interaction to complete and stays a tool result.
    if (ctx.urlElicitation && !ctx.signal.aborted && err instanceof UpstreamAuthRequired) {
      const elicitation = err.toUrlElicitation();
      if (elicitation) mapped.protocolError = elicitation;
    }
    s.logger.info({ tenantId: t.id, tool: tool.name, failure: mapped.failure, err: String(err).slice(0, 300), requestId: ctx.request?.requestId }, 'tool call failed');
    return mapped;
  }
}

/**
 * Deepest nesting of a call's arguments: tool schemas are a few levels deep, and deeper JSON overflows the stack of
 * every recursive step after it (serialising for the upstream, the audit event's sizes).
 */
export const MAX_ARGUMENT_DEPTH = 64;

/** Whether a value nests deeper than `max` (iterative: the check itself cannot overflow). */
function nestsDeeper(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

const byteSize = (v: unknown) => Buffer.byteLength(JSON.stringify(v ?? null), 'utf8');

/**
 * Runs one tools/call for a user: re-checks that the user may call the tool now (approval and current group
 * membership, through the bus-invalidated cache in callable-tools-cache.ts), runs it (built-in, or proxied to its upstream with a timeout and cancellation), and writes an audit
 * event with sizes only, never contents. Failures become tool error results; nothing internal reaches the client.
 */
export async function callTool(s: Services, t: TenantCtx, ctx: ToolCallContext, name: string, args: Record<string, unknown> | undefined): Promise<CallToolResult> {
  const started = performance.now();
  const tool = await callableToolsCache(s).find(t, ctx.userId, name);
  // Refused before anything runs, and audited like any call (JSON-RPC 2.0 §5.1: -32602 Invalid params).
  const tooDeep = args !== undefined && nestsDeeper(args, MAX_ARGUMENT_DEPTH);
  const ran: Ran = !tool || tooDeep
    ? {}
    : tracingOn
      ? await traced('mcp tools/call', { 'mcp.tool.name': tool.name, 'sso_bridge.tenant_id': t.id }, async (span) => {
          const r = await runTool(s, t, ctx, tool, args);
          if (r.failure) span.setAttribute('sso_bridge.tool.failure', r.failure);
          return r;
        })
      : await runTool(s, t, ctx, tool, args);
  const { result, failure } = ran;
  const error = !tool ? 'denied' : tooDeep ? 'invalid_arguments' : (failure ?? (result?.isError ? 'tool_error' : undefined));
  // Written off the response path, batched with the tenant's other calls within AuditLog's linger window: one INSERT
  // per call would otherwise cost more CPU than the rest of the gateway. The event carries the call's own timing; a
  // failed write is logged by AuditLog (without contents). Awaiting only applies back-pressure when the database has
  // fallen far behind (resolves at once otherwise).
  await s.audit.recordInBackground(t, {
    actor: { kind: 'user', id: ctx.userId },
    action: 'mcp.tool.call',
    target: { kind: 'tool', id: tool?.id ?? null },
    outcome: !tool ? 'denied' : error ? 'failure' : 'success',
    request: ctx.request ?? {},
    detail: {
      tool: name.slice(0, 128),
      clientId: ctx.clientId,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      argumentBytes: tooDeep ? -1 : byteSize(args),
      resultBytes: result ? byteSize(result) : 0,
      ...(error && { error }),
    },
  });
  s.metrics.toolCall(tool ? (tool.upstreamId ?? 'builtin') : 'none', upstreamLabel, tool, (error ?? 'success') as ToolOutcome, (performance.now() - started) / 1000);
  if (!tool) throw new UnknownToolError(name);
  if (tooDeep) throw new McpError(ErrorCode.InvalidParams, `Tool arguments nest deeper than ${MAX_ARGUMENT_DEPTH} levels`);
  if (!result) throw new UnknownToolError(name);
  if (ran.protocolError) {
    // Every node learns the elicitation, so the one holding the session's GET stream can announce its completion.
    const elicitationId = ran.protocolError.elicitations[0]?.elicitationId;
    if (elicitationId && ctx.sessionId !== undefined && tool?.upstreamId) {
      await s.bus.publish({ type: 'mcp.elicitation.pending', tenantId: t.id, userId: ctx.userId, upstreamId: tool.upstreamId, sessionId: ctx.sessionId, elicitationId });
    }
    throw ran.protocolError;
  }
  return result;
}

/** The metrics label of a tool's upstream: its name (the tool name's `{upstream}__` prefix), read once per upstream. */
function upstreamLabel(tool: Tool | null): string {
  if (!tool) return 'none'; // denied: unknown, unapproved or not granted
  if (!tool.upstreamId) return 'builtin';
  const cut = tool.name.indexOf('__');
  return cut > 0 ? tool.name.slice(0, cut) : tool.upstreamId;
}
