import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/**
 * Which proxies may tell us the client's address (X-Forwarded-For): behind a load balancer PUBLIC_URL is what
 * clients see, and req.ip comes from the first hop that is not a private-network proxy.
 */
export const TRUST_PROXY = 'loopback, linklocal, uniquelocal';

// Compiled as Express compiles a comma-separated 'trust proxy' setting, so both paths agree on every address.
const trusted = proxyaddr.compile(TRUST_PROXY.split(',').map((v) => v.trim()));

const kIp = Symbol('clientIp');

/**
 * The client's address exactly as Express's `req.ip` computes it under `trust proxy = TRUST_PROXY`, computed once per
 * request: the MCP endpoint needs it for the audit event and again for the request's log line, and parsing
 * X-Forwarded-For through proxy-addr twice was a visible share of a tools/call's CPU.
 */
export function clientIp(req: IncomingMessage & { [kIp]?: string }): string | undefined {
  const known = req[kIp];
  if (known !== undefined) return known;
  const ip = proxyaddr(req, trusted);
  if (ip !== undefined) req[kIp] = ip;
  return ip;
}
