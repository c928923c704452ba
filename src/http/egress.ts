import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { buildConnector, type Dispatcher } from 'undici';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isSpecialUseAddress } from '../oauth/cimd-fetch.js';

/** A connection the egress policy refused: the destination is a special-use address no allowed network covers. */
export class EgressRefusedError extends Error {
  readonly code = 'EGRESS_REFUSED';
  constructor(readonly host: string) {
    super(`${host} is a private, loopback, link-local or other special-use address (OUTBOUND_ALLOWED_NETWORKS admits networks)`);
    this.name = 'EgressRefusedError';
  }
}

/** What a delivery that the policy refused records (audit sinks' `lastError`): never the address itself. */
export const EGRESS_REFUSED_MESSAGE = 'refused: a private, loopback or link-local address (OUTBOUND_ALLOWED_NETWORKS)';

/** Whether `err` or one of its causes (fetch wraps connection errors in a TypeError) is an egress refusal. */
export function isEgressRefusal(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) if (e instanceof EgressRefusedError) return true;
  return false;
}

/** Parses OUTBOUND_ALLOWED_NETWORKS' entries (CIDR or a single address); throws on anything else. */
export function parseNetworks(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix);
    if (family === 0 || extra !== undefined || !Number.isInteger(bits) || bits < 0 || bits > (family === 6 ? 128 : 32) || (prefix !== undefined && !/^\d+$/.test(prefix))) {
      throw new Error(`not a network: ${entry} (expected CIDR such as 10.0.0.0/8 or fd00::/8, or one address)`);
    }
    list.addSubnet(address, bits, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/**
 * The gateway's policy for connections to destinations a tenant chose — upstream MCP servers and their authorization
 * servers: a tenant admin (or an upstream naming its authorization server) must not make the gateway reach the
 * operator's own network, its loopback services or the cloud metadata service (SSRF; docs/security.md). Every
 * connection is checked when it is made, on the address it is made to: a host name is resolved by our lookup, which
 * refuses it if ANY of its addresses is special-use (cimd-fetch.ts's ranges), so DNS rebinding between a check and the
 * connection cannot slip through; an address literal is checked before dialling. Networks an operator hosts upstreams
 * on are admitted by OUTBOUND_ALLOWED_NETWORKS (empty by default). docs/decisions/0059.
 */
export class Egress {
  readonly #allowed: BlockList;
  /** For undici's `connect` option (Pool, Agent): a connector that dials only addresses the policy admits. */
  readonly connector: buildConnector.connector;
  /** fetch through a dispatcher whose connections obey the policy. */
  readonly fetch: FetchLike;

  constructor(allowedNetworks: readonly string[] = []) {
    this.#allowed = parseNetworks(allowedNetworks);
    const base = buildConnector({ lookup: this.#lookup });
    this.connector = (opts, callback) => {
      const host = opts.hostname.replace(/^\[|\]$/g, '');
      // net.connect skips `lookup` for an address literal: judged here instead.
      if (isIP(host) && this.refuses(host)) {
        callback(new EgressRefusedError(host), null);
        return;
      }
      base(opts, callback);
    };
    let dispatcher: Dispatcher | undefined;
    // Node's own fetch (libraries such as the MCP SDK's OAuth helpers expect its Response, Headers and bodies), on an
    // Agent of Node's bundled undici, the one that fetch takes as a dispatcher, with this connector.
    this.fetch = (url, init) => {
      dispatcher ??= bundledAgent(this.connector);
      return fetch(url, { ...init, dispatcher } as RequestInit);
    };
  }

  /** Whether a connection to this address is refused. */
  refuses(address: string): boolean {
    if (!isSpecialUseAddress(address)) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const plain = mapped ?? address;
    const family = isIP(plain);
    return family === 0 || !this.#allowed.check(plain, family === 4 ? 'ipv4' : 'ipv6');
  }

  /**
   * For a socket of our own (net.connect, tls.connect: syslog sinks): the lookup to connect with, which refuses a name
   * resolving to any special-use address; throws EgressRefusedError for an address literal the policy refuses, since
   * net.connect skips `lookup` for literals.
   */
  socketLookup(host: string): LookupFunction {
    if (isIP(host) && this.refuses(host)) throw new EgressRefusedError(host);
    return this.#lookup;
  }

  readonly #lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      if (addresses.length === 0) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      if (addresses.some((a) => this.refuses(a.address))) return callback(new EgressRefusedError(hostname), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** An Agent of the undici bundled with Node (its global dispatcher's class), connecting through `connect`. */
function bundledAgent(connect: buildConnector.connector): Dispatcher {
  void Response; // loads the bundled undici, which installs the global dispatcher
  const global = globalThis as unknown as Record<symbol, { constructor: new (opts: { connect: buildConnector.connector }) => Dispatcher } | undefined>;
  const Agent = (global[Symbol.for('undici.globalDispatcher.2')] ?? global[Symbol.for('undici.globalDispatcher.1')])?.constructor;
  if (!Agent) throw new Error('cannot find the undici bundled with Node');
  return new Agent({ connect });
}
