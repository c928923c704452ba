import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import type { Config } from '../config/config.js';

/**
 * Addresses a Client ID Metadata Document may never be fetched from (SSRF): loopback, RFC 1918, CGNAT, link-local
 * (169.254.169.254 is the cloud metadata service), unique-local, multicast, unspecified. oidc-provider's guarded
 * dispatcher checks the connected socket too (that also catches DNS rebinding); this pre-check fails fast instead of
 * waiting for an unroutable address to time out.
 */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
  // Documentation, AS112, 6to4 relay and AMT ranges: oidc-provider's guard refuses them too.
  ['192.0.2.0', 24], ['198.51.100.0', 24], ['203.0.113.0', 24], ['192.31.196.0', 24], ['192.52.193.0', 24],
  ['192.88.99.0', 24], ['192.175.48.0', 24],
] as const) blocked.addSubnet(net, prefix, 'ipv4');
// Not ::ffff:0:0/96: Node's BlockList matches IPv4 addresses against IPv4-mapped rules, so that rule would block all of
// IPv4. Mapped addresses are unwrapped below and judged as the IPv4 address they carry.
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64],
  ['2001::', 23], ['2001:db8::', 32], ['2002::', 16], ['2620:4f:8000::', 48], ['3fff::', 20], ['5f00::', 16],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

export function isSpecialUseAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isSpecialUseAddress(mapped[1]!);
  const family = isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** host[:port] as written in a URL, used to match the test-only allow-list. */
const hostKey = (url: URL) => url.host.toLowerCase();

function isAllowListed(config: Config, url: URL): boolean {
  return config.dangerouslyAllowCimdHosts.includes(hostKey(url));
}

/** oidc-provider's `allowFetch` hook: https only (checked by the library too) and no special-use destination. */
export async function allowCimdFetch(config: Config, clientId: string): Promise<boolean> {
  const url = URL.parse(clientId);
  if (!url || url.protocol !== 'https:') return false;
  if (isAllowListed(config, url)) return true;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) return !isSpecialUseAddress(host);
  try {
    const addresses = await lookup(host, { all: true, verbatim: true });
    return addresses.length > 0 && addresses.every((a) => !isSpecialUseAddress(a.address));
  } catch {
    return false;
  }
}

type FetchOptions = RequestInit & { dispatcher?: unknown };

/** Our own bound on one document fetch, whatever signal the library passes (it uses 2.5 s today). */
export const CIMD_FETCH_TIMEOUT_MS = 5_000;

type Dispatcher = { on(event: 'connect', fn: (origin: unknown, targets: object[]) => void): unknown };
type AgentCtor = new (opts: { connect?: { ca: string } }) => Dispatcher;

/**
 * oidc-provider's `fetch` hook: one code path in production and in tests. Redirects are never followed
 * (`redirect: 'manual'` forced here, whatever the caller asked: a 3xx is not a document, and following it would leave
 * the checked host) and the fetch is aborted after CIMD_FETCH_TIMEOUT_MS even without the library's own 2.5 s signal;
 * the 5 KB body limit is applied by the library on the response; the dispatcher is replaced by ours, which does what
 * the library's does (destroys a socket connected to a special-use address, which also defeats DNS rebinding) with
 * our list of special-use ranges. The test allow-list (DANGEROUSLY_ALLOW_CIMD_HOSTS, refused in production by
 * loadConfig) is data inside that dispatcher: a socket to exactly an allow-listed `ip:port` is kept, and
 * DANGEROUSLY_CIMD_CA_FILE is trusted — so tests exercise the same function, options and socket check as production.
 */
export function cimdFetch(config: Config): (url: string | URL, options: FetchOptions) => Promise<Response> {
  let dispatcher: Dispatcher | undefined;
  return (url, options) => {
    dispatcher ??= guardedDispatcher(config);
    // Node's fetch is undici's and honours `dispatcher`; its RequestInit type (undici-types) names another copy of
    // Dispatcher than the undici package, so the option is passed through `unknown`.
    const timeout = AbortSignal.timeout(CIMD_FETCH_TIMEOUT_MS);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    return fetch(new URL(String(url)), { ...options, redirect: 'manual', signal, dispatcher } as unknown as RequestInit);
  };
}

function guardedDispatcher(config: Config): Dispatcher {
  // Node's bundled undici: the global dispatcher's constructor is its Agent (the same trick oidc-provider uses).
  void Response;
  const global = globalThis as unknown as Record<symbol, { constructor: AgentCtor } | undefined>;
  const Agent = (global[Symbol.for('undici.globalDispatcher.2')] ?? global[Symbol.for('undici.globalDispatcher.1')])?.constructor;
  if (!Agent) throw new Error('cannot build the CIMD fetch dispatcher');
  const ca = config.dangerouslyCimdCaFile ? readFileSync(config.dangerouslyCimdCaFile, 'utf8') : undefined;
  const agent = new Agent(ca ? { connect: { ca } } : {});
  agent.on('connect', (_origin, targets) => {
    const client = targets[targets.length - 1] as Record<symbol, unknown> | undefined;
    const key = client && Object.getOwnPropertySymbols(client).find((sym) => sym.description === 'socket');
    const socket = key ? (client[key] as { remoteAddress?: string; remotePort?: number; destroy(err: Error): void } | undefined) : undefined;
    if (!socket) return;
    const address = socket.remoteAddress ?? '';
    const exempt = config.dangerouslyAllowCimdHosts.includes(`${address.includes(':') ? `[${address}]` : address}:${socket.remotePort}`);
    if (!exempt && isSpecialUseAddress(address)) socket.destroy(new Error('CIMD fetch refused: connected to a special-use address'));
  });
  return agent;
}
