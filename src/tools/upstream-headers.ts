import type { Services } from '../services.js';
import { badRequest } from '../lib/errors.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/; // RFC 9110 §5.6.2 field-name
// Headers the gateway controls itself; letting an admin set them would break the transport.
const RESERVED = new Set(['host', 'content-length', 'content-type', 'accept', 'mcp-session-id', 'mcp-protocol-version', 'connection', 'transfer-encoding']);

/** Parses `--header "K: V"` values (also one per line from `--header-file`). */
export function parseHeaderArgs(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of values.flatMap((v) => v.split(/\r?\n/)).filter((l) => l.trim() !== '')) {
    const colon = raw.indexOf(':');
    const name = colon > 0 ? raw.slice(0, colon).trim() : '';
    const value = colon > 0 ? raw.slice(colon + 1).trim() : '';
    if (!TOKEN.test(name)) throw badRequest(`--header must look like "Name: value" (got a header without a valid name)`);
    if (RESERVED.has(name.toLowerCase())) throw badRequest(`--header ${name} is set by the gateway itself`);
    if (/[\r\n\0]/.test(value)) throw badRequest(`--header ${name} has control characters in its value`);
    out[name] = value;
  }
  return out;
}

/** The extra headers of an upstream, kept encrypted in the vault (they often carry API keys). */
export async function readUpstreamHeaders(s: Services, t: TenantCtx, headersSecretId: string | null): Promise<Record<string, string>> {
  if (!headersSecretId) return {};
  return JSON.parse(await s.vault.getString(t, headersSecretId)) as Record<string, string>;
}
