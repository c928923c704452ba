import { readFileSync } from 'node:fs';
import https from 'node:https';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import type okta from '@okta/okta-sdk-nodejs';
import type { Config } from '../../config/config.js';
import { isSpecialUseAddress } from '../../oauth/cimd-fetch.js';
import { OktaError } from './okta-error.js';

/** Retry and pacing knobs (tests shorten the waits by replacing `sleep`). */
export interface OktaRetryPolicy {
  /** Retries of one request answered 429. */
  maxRetries: number;
  /** Longest wait for a rate-limit window to reset; a later reset fails the request instead of hanging a run. */
  maxWaitMs: number;
  /** Added to the computed wait: X-Rate-Limit-Reset and Date have one-second resolution. */
  padMs: number;
  /** Per-request timeout. */
  timeoutMs: number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

type NodeFetchRequest = Record<string, unknown> & { url: string; headers?: Record<string, string> };
interface NodeFetchResponse {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

const TOKEN_PATH = '/oauth2/v1/token';

/** The token endpoint answers RFC 6749 §5.2 errors, which the SDK's error type would drop: keep `error` and its description. */
async function tokenError(res: NodeFetchResponse): Promise<OktaError> {
  const text = await res.text().catch(() => '');
  let body: { error?: unknown; error_description?: unknown; errorCode?: unknown; errorSummary?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: the status says enough
  }
  const code = typeof body.error === 'string' ? body.error : typeof body.errorCode === 'string' ? body.errorCode : `HTTP ${res.status}`;
  const description = typeof body.error_description === 'string' ? body.error_description : typeof body.errorSummary === 'string' ? body.errorSummary : '';
  return new OktaError(res.status, code.slice(0, 100), `token request refused: ${code}${description ? ` (${description})` : ''}`);
}

const hostKey = (u: URL) => u.host.toLowerCase();

/**
 * Outbound guard for an org URL a tenant admin typed: the socket may not reach a special-use address (loopback,
 * RFC 1918, link-local — the cloud metadata service — …), checked on the resolved addresses so DNS rebinding is caught
 * too. The test-only allow-list (DANGEROUSLY_ALLOW_CONNECTOR_HOSTS, `host:port`) exempts the local fake, and
 * DANGEROUSLY_CONNECTOR_CA_FILE is trusted besides the system roots (both refused in production by loadConfig).
 */
export function connectorTransport(config: Config, origin: URL): OktaTransport {
  const allowed = config.dangerouslyAllowConnectorHosts.includes(hostKey(origin));
  const extraCa = config.dangerouslyConnectorCaFile ? readFileSync(config.dangerouslyConnectorCaFile, 'utf8') : undefined;
  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const bad = !allowed && addresses.some((a) => isSpecialUseAddress(a.address));
      if (bad || addresses.length === 0) return callback(Object.assign(new Error(`${hostname} resolves to a special-use address`), { code: 'ESPECIALUSE' }), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
  return { agent: new https.Agent({ lookup, ...(extraCa && { ca: [...rootCertificates, extraCa] }) }), allowSpecialUse: allowed };
}

export interface OktaTransport {
  agent: https.Agent;
  /** The origin is on the test-only allow-list. */
  allowSpecialUse: boolean;
}

/** What callers see of the executor: requests sent (tests and reports). */
export interface OktaExecutor {
  requests: number;
}

type ExecutorCtor = new (origin: URL, transport: OktaTransport, policy: OktaRetryPolicy, signal?: AbortSignal) => okta.RequestExecutor & OktaExecutor;
let ctor: Promise<ExecutorCtor> | undefined;

/**
 * The executor for one client. The SDK is loaded on first use only: it is large (its generated API modules take
 * about a second of CPU to load), and the CLI and the server start without needing it.
 */
export async function createOktaExecutor(origin: URL, transport: OktaTransport, policy: OktaRetryPolicy, signal?: AbortSignal) {
  ctor ??= import('@okta/okta-sdk-nodejs').then((m) => executorClass(m.default));
  return new (await ctor)(origin, transport, policy, signal);
}

/**
 * The SDK's request executor (its documented extension point), replacing DefaultRequestExecutor, which waits with
 * real timers, cannot be cancelled and follows a `Link: rel="next"` wherever it points. Every request of the client
 * — the token request included — goes through here:
 * - only to the org's origin: a next link or redirect elsewhere would carry the API token or bearer token away;
 * - over the guarded agent, with the run's AbortSignal and a timeout, never following redirects;
 * - 429: waits until `X-Rate-Limit-Reset` (epoch seconds, measured against the response's `Date`, as Okta advises, so
 *   our clock's skew does not matter; `Retry-After` as a fallback) and retries, at most `maxRetries` times;
 * - `X-Rate-Limit-Remaining: 0` on a success: the next request waits for the reset instead of earning a 429.
 */
function executorClass(sdk: typeof okta): ExecutorCtor {
  return class OktaRequestExecutor extends sdk.RequestExecutor {
    #pausedUntil = 0;
    /** Requests sent (tests and `connector test` report it). */
    requests = 0;

    constructor(
      private readonly origin: URL,
      private readonly transport: OktaTransport,
      private readonly policy: OktaRetryPolicy,
      private readonly signal?: AbortSignal,
    ) {
      super();
    }

    override async fetch(request: NodeFetchRequest): Promise<never> {
      const url = new URL(request.url);
      if (url.origin !== this.origin.origin) throw new OktaError(0, 'E_ORIGIN', `Okta pointed the client at another origin (${url.origin.slice(0, 100)}); refused`);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      // An IP literal is connected to without a lookup, so the agent's check does not see it.
      if (isIP(host) && isSpecialUseAddress(host) && !this.transport.allowSpecialUse) throw new OktaError(0, 'E_ADDRESS', 'The org URL is a special-use address');
      for (let attempt = 0; ; attempt++) {
        const wait = this.#pausedUntil - Date.now();
        if (wait > 0) await this.policy.sleep(Math.min(wait, this.policy.maxWaitMs), this.signal);
        this.signal?.throwIfAborted();
        const timeout = AbortSignal.timeout(this.policy.timeoutMs);
        const signal = this.signal ? AbortSignal.any([this.signal, timeout]) : timeout;
        this.requests++;
        let res: NodeFetchResponse;
        try {
          res = (await super.fetch({ ...request, agent: this.transport.agent, signal, redirect: 'manual' } as never)) as unknown as NodeFetchResponse;
        } catch (err) {
          if (this.signal?.aborted) throw err;
          const reason = timeout.aborted ? 'timed out' : (err as { code?: string }).code === 'ESPECIALUSE' ? 'resolves to a special-use address' : 'is unreachable';
          throw new OktaError(0, 'E_NETWORK', `Okta (${this.origin.host}) ${reason}`);
        }
        const delay = this.#resetDelay(res);
        if (res.status === 429 && attempt < this.policy.maxRetries) {
          await res.text().catch(() => '');
          if (delay === null || delay > this.policy.maxWaitMs) {
            throw new OktaError(429, 'E0000047', `Okta's rate limit resets too late to wait for (${delay === null ? 'no reset header' : `${Math.ceil(delay / 1000)} s`})`);
          }
          await this.policy.sleep(delay, this.signal);
          continue;
        }
        if (res.status < 300 && res.headers.get('x-rate-limit-remaining') === '0' && delay !== null) this.#pausedUntil = Date.now() + delay;
        if (res.status >= 400 && url.pathname === TOKEN_PATH) throw await tokenError(res);
        if (res.status >= 300 && res.status < 400) throw new OktaError(res.status, 'E_REDIRECT', 'Okta answered with a redirect; check the org URL');
        return res as never;
      }
    }

    /** Milliseconds until the rate-limit window resets, per the response's own clock; null without a usable header. */
    #resetDelay(res: NodeFetchResponse): number | null {
      const reset = res.headers.get('x-rate-limit-reset');
      const date = Date.parse(res.headers.get('date') ?? '');
      // Duplicate headers arrive joined by commas (the SDK refuses those too, OKTA-112507).
      if (reset && /^\d{1,12}$/.test(reset.trim())) {
        const base = Number.isNaN(date) ? Date.now() : date;
        return Math.max(0, Number(reset) * 1000 - base) + this.policy.padMs;
      }
      const after = res.headers.get('retry-after');
      if (after && /^\d{1,6}$/.test(after.trim())) return Number(after) * 1000 + this.policy.padMs;
      return null;
    }
  };
}
