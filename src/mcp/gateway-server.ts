import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

type Schema = Parameters<Server['setRequestHandler']>[0];
type Handler = Parameters<Server['setRequestHandler']>[1];

/**
 * The SDK's Server, except that a request whose params do not fit its method's schema is answered `-32602 Invalid
 * params` (JSON-RPC 2.0 §5.1, which MCP uses for exactly this), for every method, ours and the SDK's own: the SDK's
 * Protocol parses a handler's schema before the handler runs and answers a parse failure as `-32603` with the
 * validator's dump, which tells a client its request was fine and the server broken. Each handler is registered on a
 * schema that only names its method; the method's own schema is checked here, and only what it accepts reaches the
 * handler, parsed as before. (tools/call keeps the Server's own check, which already answers -32602.)
 */
export class GatewayServer extends Server {
  override setRequestHandler(schema: Schema, handler: Handler): void {
    const method = (schema as unknown as { shape: { method: { value: unknown } } }).shape.method.value;
    if (typeof method !== 'string') throw new Error('request schema without a method literal');
    const strict = schema as unknown as z.ZodType;
    super.setRequestHandler(z.looseObject({ method: z.literal(method) }), (request, extra) => {
      const parsed = strict.safeParse(request);
      if (!parsed.success) throw new McpError(ErrorCode.InvalidParams, `Invalid params for ${method}: ${describe(parsed.error)}`);
      return handler(parsed.data as never, extra);
    });
  }
}

/** The first problem, as a path and zod's short message: enough to fix the request, without the validator's dump. */
function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'does not match the schema';
  const at = issue.path.filter((p) => p !== 'params').join('.');
  return `${at || 'params'}: ${issue.message}`.slice(0, 200);
}
