import type { CallToolRequest, CallToolResult, JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';

/**
 * The plainest shapes of a tools/call request and result, recognised without the SDK's zod schemas — only those for
 * which the schemas' output is the input itself, so nothing changes but the cost: the schemas' parse, which copies
 * every object it accepts, was the largest single allocation of a fast-path call (issue 17 §1). Every other shape
 * (another key, another type, a task, a content block other than text, key orders the schemas would reorder) returns
 * null and the caller parses it with the schemas as before, which accept, strip or refuse it exactly as the SDK does.
 * test/mcp/plain-shapes-unit.test.ts checks both against the schemas, value for value and byte for byte.
 */

/** An object as JSON.parse makes them (Object.prototype as its prototype): what the checks below reason about. */
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** JSON-RPC ids and progress tokens: a string or a safe integer (RequestIdSchema, ProgressTokenSchema: `z.number().int()`). */
const isIdLike = (v: unknown): v is string | number => typeof v === 'string' || Number.isSafeInteger(v);

/**
 * `arguments` as `z.record(z.string(), z.unknown())` would return it unchanged: a plain object whose keys the copy
 * would carry over as they are (a `__proto__` key would become the copy's prototype instead, so it is left to zod).
 */
function isPlainRecord(v: unknown): v is Record<string, unknown> {
  return isPlainObject(v) && !Object.hasOwn(v, '__proto__');
}

/** `params._meta` with at most a progress token (RequestMetaSchema keeps other keys and reshapes the task one). */
function isPlainMeta(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  for (const key in v) if (key !== 'progressToken' || !isIdLike(v[key])) return false;
  return true;
}

/**
 * A tools/call request `{jsonrpc: "2.0", id, method: "tools/call", params: {name, arguments?, _meta?: {progressToken?}}}`
 * (no other key anywhere), as JSONRPCRequestSchema and then CallToolRequestSchema would return it; null for any other
 * message.
 */
export function plainToolCall(body: unknown): { request: JSONRPCRequest; call: CallToolRequest['params'] } | null {
  if (!isPlainObject(body) || body.jsonrpc !== '2.0' || body.method !== 'tools/call' || !isIdLike(body.id)) return null;
  for (const key in body) if (key !== 'jsonrpc' && key !== 'id' && key !== 'method' && key !== 'params') return null;
  const params = body.params;
  if (!isPlainObject(params) || typeof params.name !== 'string') return null;
  for (const key in params) {
    if (key === 'name') continue;
    if (key === 'arguments' ? !isPlainRecord(params.arguments) : key !== '_meta' || !isPlainMeta(params._meta)) return null;
  }
  return { request: body as JSONRPCRequest, call: params as CallToolRequest['params'] };
}

/**
 * A result `{content: [{type: "text", text}, …], isError?}` with its keys in the schema's order, as
 * CallToolResultSchema would return it (its parse rebuilds objects in the schema's key order, so another order, like
 * any other key or block, goes to the schema); null otherwise.
 */
export function plainTextResult(result: unknown): CallToolResult | null {
  if (!isPlainObject(result)) return null;
  const keys = Object.keys(result);
  if (keys[0] !== 'content' || keys.length > 2 || (keys.length === 2 && (keys[1] !== 'isError' || typeof result.isError !== 'boolean'))) return null;
  const content = result.content;
  if (!Array.isArray(content)) return null;
  for (const block of content) {
    if (!isPlainObject(block) || block.type !== 'text' || typeof block.text !== 'string') return null;
    const blockKeys = Object.keys(block);
    if (blockKeys.length !== 2 || blockKeys[0] !== 'type') return null;
  }
  return result as CallToolResult;
}
