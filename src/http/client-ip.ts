import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/**
 * Which proxies may tell us the client's address (X-Forwarded-For): behind a load balancer PUBLIC_URL is what
 * clients see, and req.ip comes from the first hop that is not a private-network proxy.
 */
export const TRUST_PROXY = 'loopback, linklocal, uniquelocal';

// Compiled as Express compiles a comma-separated 'trust proxy' setting, so both paths agree on every address.
const trusted = proxyaddr.compile(TRUST_PROXY.split(',').map((v) => v.trim()));

/** The client's address exactly as Express's `req.ip` computes it under `trust proxy = TRUST_PROXY`. */
export const clientIp = (req: IncomingMessage): string | undefined => proxyaddr(req, trusted);
