import type { IncomingMessage } from 'node:http';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { mediaType } from '../lib/media-type.js';

/**
 * Why a POST body that is a JSON-RPC batch is refused, if it is: JSON-RPC 2.0 §6 makes an empty array an invalid
 * request, and MCP removed batching in 2025-06-18 (Transports: the body "MUST be a single JSON-RPC request,
 * notification, or response"), so a client that negotiated that version or a later one may not send one. A client
 * without the header speaks 2025-03-26 (the spec's assumption), where batches are allowed: the SDK answers them.
 */
export function batchRefusal(req: IncomingMessage, body: unknown): string | null {
  if (!Array.isArray(body)) return null;
  if (body.length === 0) return 'Invalid Request: an empty batch';
  const version = req.headers['mcp-protocol-version'];
  if (typeof version === 'string' && version >= '2025-06-18') return `Invalid Request: protocol version ${version.slice(0, 20)} does not allow JSON-RPC batches`;
  return null;
}

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
