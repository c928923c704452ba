import type { IncomingMessage } from 'node:http';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { mediaType } from '../lib/media-type.js';

/**
 * Whether the SDK's Streamable HTTP transport accepts a POST by its headers (server/webStandardStreamableHttp.js,
 * handlePostRequest): Accept lists both JSON and SSE (else 406), Content-Type is JSON (else 415), and a request
 * other than `initialize` names a supported Mcp-Protocol-Version or none (else 400; MCP 2025-11-25 Transports,
 * "Protocol Version Header"). A request it refuses must have no effect: nothing it carries is acted on before this.
 */
export function postHeadersAccepted(req: IncomingMessage, initialize: boolean): boolean {
  const accept = req.headers.accept;
  if (!accept?.includes('application/json') || !accept.includes('text/event-stream')) return false;
  if (mediaType(req.headers['content-type']) !== 'application/json') return false;
  if (initialize) return true;
  const version = req.headers['mcp-protocol-version'];
  return version === undefined || (typeof version === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(version));
}
