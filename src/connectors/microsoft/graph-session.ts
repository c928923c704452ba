import { setTimeout as delay } from 'node:timers/promises';
import type { ConnectorToolCall } from '../connector-tool.js';
import { microsoftConfig, type MicrosoftConfig } from './microsoft-config.js';
import { MicrosoftToolFailure } from './microsoft-failure.js';
import { microsoftRuntime, withClaims, type RemedyLinks } from './microsoft-tokens.js';

/** No Graph call waits longer than this for an answer. */
const GRAPH_TIMEOUT_MS = 30_000;
/** Largest JSON answer read from Graph (a page of messages with bodies stays far below). */
const MAX_JSON_BYTES = 8 * 1024 * 1024;

export interface GraphRequest {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Path under the version, e.g. `/me/messages`, or an absolute `@odata.nextLink` (checked to be this Graph). */
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Reads and idempotent writes are retried on 5xx too; every call is retried on 429. */
  idempotent?: boolean;
  /** Return the raw response (file content) instead of parsed JSON. */
  raw?: boolean;
}

interface GraphErrorBody {
  error?: { code?: string; message?: string };
}

/**
 * One tool call's access to Microsoft Graph as one user: OBO tokens for the tool's permissions (cached), requests to
 * the connector's Graph endpoint only (an `@odata.nextLink` elsewhere is refused: it would carry the user's token
 * away), every endpoint recorded for the audit, 429 honoured with its Retry-After and 5xx retried for reads.
 */
export class GraphSession {
  readonly endpoints: string[] = [];
  readonly config: MicrosoftConfig;

  constructor(
    readonly call: ConnectorToolCall,
    readonly permissions: readonly string[],
    readonly links: RemedyLinks,
  ) {
    this.config = microsoftConfig(call.connector);
  }

  #url(req: GraphRequest): URL {
    const base = `${this.config.graphEndpoint}/v1.0`;
    let url: URL;
    if (/^https?:/i.test(req.path)) {
      url = new URL(req.path);
      if (url.origin !== new URL(this.config.graphEndpoint).origin || !url.pathname.startsWith('/v1.0/')) {
        throw new MicrosoftToolFailure('bad_response', 'Microsoft Graph returned a paging link to another host; the call was stopped.');
      }
    } else url = new URL(`${base}${req.path}`);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  /** Runs one Graph request; `label` (e.g. `GET /me/messages`) is what the audit records. */
  async request<T = Record<string, unknown>>(label: string, req: GraphRequest): Promise<T> {
    const policy = microsoftRuntime(this.call.s).retry;
    const url = this.#url(req);
    const method = req.method ?? 'GET';
    const idempotent = req.idempotent ?? (method === 'GET' || method === 'DELETE');
    for (let attempt = 1; ; attempt++) {
      this.endpoints.push(label);
      const token = await microsoftRuntime(this.call.s).tokens.graphToken(this.call.t, this.call.connector, this.call.userId, this.permissions, this.links);
      let res: Response;
      try {
        res = await this.call.s.egress.fetch(url, {
          method,
          headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(req.body !== undefined && { 'content-type': 'application/json' }), ...req.headers },
          ...(req.body !== undefined && { body: JSON.stringify(req.body) }),
          redirect: req.raw ? 'follow' : 'error',
          signal: AbortSignal.any([this.call.signal, AbortSignal.timeout(GRAPH_TIMEOUT_MS)]),
        });
      } catch {
        if (this.call.signal.aborted) throw new MicrosoftToolFailure('cancelled', 'The call was cancelled.');
        if (idempotent && attempt < policy.attempts) continue;
        throw new MicrosoftToolFailure('microsoft_unavailable', `Microsoft Graph did not answer (${label}). Retry in a minute.`, { kind: 'retry' });
      }
      if (res.ok) {
        if (req.raw) return res as unknown as T;
        if (res.status === 202 || res.status === 204) return {} as T;
        return (await readJson(res)) as T;
      }
      const retryAfterS = /^\d{1,6}$/.test(res.headers.get('retry-after') ?? '') ? Number(res.headers.get('retry-after')) : null;
      const body = ((await readJson(res).catch(() => ({}))) ?? {}) as GraphErrorBody;
      const transient = res.status === 429 || (idempotent && (res.status === 503 || res.status === 502 || res.status === 504 || res.status === 500));
      const wait = retryAfterS !== null ? retryAfterS * 1000 : Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      // A Retry-After longer than we may wait is reported to the caller rather than cut short (Graph throttling guidance).
      if (transient && attempt < policy.attempts && wait <= policy.maxDelayMs && !this.call.signal.aborted) {
        await delay(wait, undefined, { signal: this.call.signal }).catch(() => undefined);
        continue;
      }
      const failure = graphFailure(res, body, label, retryAfterS, this.links);
      if (failure.action?.kind === 'sign_in') microsoftRuntime(this.call.s).tokens.forget(this.call.t.id, this.call.userId);
      throw failure;
    }
  }

  /**
   * Follows `@odata.nextLink` until `max` items or `maxPages` pages (bounded: a mailbox can hold millions). Returns
   * the items and the link to continue from, if any.
   */
  async pages<T>(label: string, req: GraphRequest, max: number, maxPages = 5): Promise<{ items: T[]; nextLink: string | null }> {
    const items: T[] = [];
    let next: GraphRequest | null = req;
    let nextLink: string | null = null;
    for (let page = 0; next && page < maxPages && items.length < max; page++) {
      const body: { value?: T[]; '@odata.nextLink'?: string } = await this.request(label, next);
      items.push(...(body.value ?? []));
      nextLink = body['@odata.nextLink'] ?? null;
      next = nextLink ? { path: nextLink, ...(req.headers && { headers: req.headers }) } : null;
    }
    return { items: items.slice(0, max), nextLink };
  }
}

async function readJson(res: Response): Promise<unknown> {
  const len = Number(res.headers.get('content-length') ?? 0);
  if (len > MAX_JSON_BYTES) throw new MicrosoftToolFailure('bad_response', 'Microsoft Graph answered with more data than a tool may read.');
  const text = await res.text();
  if (text.length > MAX_JSON_BYTES) throw new MicrosoftToolFailure('bad_response', 'Microsoft Graph answered with more data than a tool may read.');
  return text ? JSON.parse(text) : {};
}

/** Graph's error answers in words the user can act on. */
function graphFailure(res: Response, body: GraphErrorBody, label: string, retryAfterS: number | null, links: RemedyLinks): MicrosoftToolFailure {
  const message = (body.error?.message ?? '').split('\n')[0]!.slice(0, 200).replace(/\.+$/, '');
  const code = body.error?.code ?? '';
  const retryHint = retryAfterS ? `Retry in about ${retryAfterS} s.` : 'Retry in a minute.';
  if (res.status === 429) return new MicrosoftToolFailure('rate_limited', `Microsoft Graph is throttling these requests (${label}). ${retryHint}`, { kind: 'retry' });
  // Continuous access evaluation: a 401 with a claims challenge (WWW-Authenticate: Bearer … claims="…").
  const challenge = /claims="([^"]{1,4096})"/.exec(res.headers.get('www-authenticate') ?? '')?.[1];
  if (res.status === 401 && challenge) {
    const url = withClaims(links.signIn, challenge);
    return new MicrosoftToolFailure('claims_challenge', `Your organisation's sign-in policy requires you to sign in again before Microsoft 365 can be used. Sign in through your organisation's SSO, then retry: ${url}`, { kind: 'sign_in', url, claims: challenge });
  }
  if (res.status >= 500) return new MicrosoftToolFailure('microsoft_unavailable', `Microsoft Graph is unavailable right now (${label}, HTTP ${res.status}). ${retryHint}`, { kind: 'retry' });
  if (res.status === 404) return new MicrosoftToolFailure('not_found', `Not found in Microsoft 365 (${label}): check the id.`);
  if (res.status === 401 || res.status === 403) return new MicrosoftToolFailure('forbidden', `Microsoft Graph refused ${label}: ${message || code || 'access denied'}.`);
  return new MicrosoftToolFailure('bad_request', `Microsoft Graph rejected ${label}: ${message || code || `HTTP ${res.status}`}.`);
}
