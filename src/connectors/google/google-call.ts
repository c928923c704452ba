import { setTimeout as delay } from 'node:timers/promises';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { GoogleApis } from 'googleapis';
import type { Egress } from '../../http/egress.js';
import { toolError, type ConnectorToolCall } from '../connector-tool.js';
import { googleConfig, googleSubject, type GoogleConfig } from './google-config.js';
import { GoogleTokenError, type GoogleAccessToken } from './google-token.js';
import { googleRuntime } from './google-tokens.js';

/** googleapis is large (over a second of CPU to import): loaded on the first Google call, not at every start. */
let googleapis: Promise<GoogleApis> | undefined;
export const loadGoogleapis = () => (googleapis ??= import('googleapis').then((m) => m.google));

/** A Google failure already phrased for the user (tool error text); `failure` is what the audit records. */
export class GoogleToolFailure extends Error {
  override name = 'GoogleToolFailure';
  constructor(
    readonly failure: string,
    message: string,
  ) {
    super(message);
  }
}

interface GoogleErrorBody {
  error?: { code?: number; message?: string; status?: string; errors?: { reason?: string }[] } | string;
}

/** Status, reasons and message of a googleapis (gaxios) error with Google's JSON error body. */
function describeApiError(err: unknown, nowMs: number): { status: number; reasons: string[]; message: string; retryAfterS: number | null } | null {
  if (!err || typeof err !== 'object' || !('response' in err)) return null;
  const res = (err as { response?: { status?: number; data?: unknown; headers?: unknown } }).response;
  if (!res?.status) return null;
  const body = (res.data ?? {}) as GoogleErrorBody;
  const e = typeof body.error === 'object' ? body.error : undefined;
  const headers = res.headers as { get?: (n: string) => string | null } | Record<string, string> | undefined;
  const ra = typeof headers?.get === 'function' ? headers.get('retry-after') : (headers as Record<string, string> | undefined)?.['retry-after'];
  // RFC 9110 §10.2.3: Retry-After is delay-seconds or an HTTP-date.
  const dateS = ra && !/^\d+$/.test(ra) ? Math.ceil((Date.parse(ra) - nowMs) / 1000) : NaN;
  const retryAfterS = ra && /^\d{1,5}$/.test(ra) ? Number(ra) : Number.isFinite(dateS) ? Math.min(Math.max(dateS, 0), 86_400) : null;
  return { status: res.status, reasons: (e?.errors ?? []).map((x) => x.reason ?? '').filter(Boolean), message: (e?.message ?? '').split('\n')[0]!.slice(0, 200).replace(/\.+$/, ''), retryAfterS };
}

const RATE_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded']);
const QUOTA_REASONS = new Set(['quotaExceeded', 'dailyLimitExceeded', 'limitExceeded']);

/**
 * The options every googleapis service client is made with: the delegated access token in an OAuth2 client (we mint
 * tokens ourselves: decision 0018), `rootUrl` only with `--api-root` (else each API's public default, e.g.
 * https://gmail.googleapis.com/), and no gaxios retries — ours (below) never sleep on real timers nor retry POSTs
 * Google may have executed. The API root is the tenant admin's choice: requests go through the egress policy
 * (`fetchImplementation`: Egress.fetch, docs/decisions/0059), so it cannot point the delegated token at the
 * deployment's own network.
 */
export function googleApiOptions(google: GoogleApis, config: Pick<GoogleConfig, 'apiRoot'>, token: GoogleAccessToken, fetch: Egress['fetch']) {
  const auth = new google.auth.OAuth2();
  auth.setCredentials({ access_token: token.accessToken, expiry_date: token.expiresAt.getTime() });
  return { auth, retry: false, fetchImplementation: fetch as typeof globalThis.fetch, ...(config.apiRoot && { rootUrl: config.apiRoot }) };
}

/**
 * One tool call's access to Google as one user: tokens for the tool's scopes (cached), API clients pointed at the
 * connector's API root, every API method called recorded for the audit, and 429/5xx retried with backoff.
 */
export class GoogleSession {
  readonly methods: string[] = [];
  readonly config: GoogleConfig;

  constructor(
    readonly call: ConnectorToolCall,
    readonly subject: string,
    readonly scopes: readonly string[],
  ) {
    this.config = googleConfig(call.connector);
  }

  /** The googleapis entry point (loaded lazily). */
  googleapis() {
    return loadGoogleapis();
  }

  /** googleapis options for a service: an OAuth2 client holding the delegated token, our root URL, no gaxios retry. */
  async options() {
    const google = await loadGoogleapis();
    const token = await googleRuntime(this.call.s).tokens.get(this.call.t, this.call.connector, this.call.userId, this.subject, this.scopes, this.call.signal);
    return googleApiOptions(google, this.config, token, this.call.s.egress.fetch);
  }

  /**
   * Runs one API method (`label` like `gmail.users.messages.list`). 429, rate-limit 403s and 5xx are retried with
   * exponential backoff (honouring Retry-After) when `idempotent`; a non-idempotent call is retried only on 429 and
   * rate limits, which Google answers before doing anything.
   */
  async api<T>(label: string, run: (opts: { signal: AbortSignal }) => Promise<{ data: T }>, idempotent = true): Promise<T> {
    const policy = googleRuntime(this.call.s).retry;
    for (let attempt = 1; ; attempt++) {
      this.methods.push(label);
      try {
        return (await run({ signal: this.call.signal })).data;
      } catch (err) {
        const e = describeApiError(err, this.call.s.clock.now().getTime());
        if (!e) throw err;
        // RFC 6750 §3.1 invalid_token: the cached token is dead at Google; the next call gets a fresh one.
        if (e.status === 401) {
          googleRuntime(this.call.s).tokens.forget(this.call.t, this.call.connector, this.subject, this.scopes);
          throw new GoogleToolFailure('token_rejected', `Google refused the access token (${label}). Retry: a new one is requested on the next call.`);
        }
        const rate = e.status === 429 || (e.status === 403 && e.reasons.some((r) => RATE_REASONS.has(r)));
        const quota = e.status === 403 && e.reasons.some((r) => QUOTA_REASONS.has(r));
        const transient = rate || (idempotent && e.status >= 500);
        if (transient && attempt < policy.attempts && !this.call.signal.aborted) {
          const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
          await delay(e.retryAfterS !== null ? Math.min(policy.maxDelayMs, e.retryAfterS * 1000) : backoff, undefined, { signal: this.call.signal }).catch(() => undefined);
          continue;
        }
        throw apiFailure(e, label, rate, quota);
      }
    }
  }
}

function apiFailure(e: NonNullable<ReturnType<typeof describeApiError>>, label: string, rate: boolean, quota: boolean): GoogleToolFailure {
  const retryHint = e.retryAfterS ? `Retry in about ${e.retryAfterS} s.` : 'Retry in a minute.';
  if (rate) return new GoogleToolFailure('rate_limited', `Google is rate limiting these requests (${label}). ${retryHint}`);
  if (quota) return new GoogleToolFailure('quota_exceeded', `Google quota exceeded for ${label}: ${e.message || 'quota exceeded'}. The organisation's quota resets later; ask your administrator if this persists.`);
  if (e.status >= 500) return new GoogleToolFailure('google_unavailable', `Google is unavailable right now (${label}, HTTP ${e.status}). ${retryHint}`);
  if (e.status === 404) return new GoogleToolFailure('not_found', `Not found in Google (${label}): check the id.`);
  if (e.status === 401 || e.status === 403) return new GoogleToolFailure('forbidden', `Google refused ${label}: ${e.message || 'permission denied'}.`);
  return new GoogleToolFailure('bad_request', `Google rejected ${label}: ${e.message || `HTTP ${e.status}`}.`);
}

function tokenFailure(err: GoogleTokenError, scopes: readonly string[]): GoogleToolFailure {
  if (err.code === 'unauthorized_client' || err.code === 'access_denied') {
    return new GoogleToolFailure('delegation_missing', `Your organisation's Google admin has not granted this tool's access (domain-wide delegation for ${scopes.join(', ')}). Ask your administrator to run "connector test" and authorise the listed scopes.`);
  }
  if (err.code === 'invalid_grant' && /user|email|sub/i.test(err.message)) {
    return new GoogleToolFailure('identity_unknown', 'Google does not know your account (or it is suspended) in this organisation.');
  }
  if (err.code === 'unreachable' || err.status >= 500 || err.status === 429) return new GoogleToolFailure('google_unavailable', 'Google sign-in is unavailable right now. Retry in a minute.');
  return new GoogleToolFailure('credentials_invalid', "The organisation's Google connector credentials were refused. Ask your administrator to check the connector.");
}

export type GoogleHandler = (g: GoogleSession, args: Record<string, unknown>) => Promise<CallToolResult>;

/**
 * Wraps a Google tool: maps the caller to their Google identity (their e-mail, which must belong to one of the
 * connector's domains, never anyone else's), runs the handler, turns every failure into a tool error, and audits the
 * call with the API methods it used and the outcome — never arguments or contents.
 */
export function googleTool(tool: string, scopes: readonly string[], handler: GoogleHandler) {
  return async (call: ConnectorToolCall, args: Record<string, unknown>): Promise<CallToolResult> => {
    const user = await call.t.db.user.findFirst({ where: { id: call.userId, active: true }, select: { email: true } });
    const email = user?.email?.trim().toLowerCase() ?? '';
    const config = googleConfig(call.connector);
    const subject = googleSubject(email, config.domains);
    let session: GoogleSession | null = null;
    let failure: string | null = null;
    let result: CallToolResult;
    try {
      if (!subject) {
        throw new GoogleToolFailure('identity_unmapped', `Your account (${email.slice(0, 254) || 'no e-mail'}) is not in this organisation's Google Workspace domains (${config.domains.join(', ')}), so Google tools cannot act for you.`);
      }
      session = new GoogleSession(call, subject, scopes);
      result = await handler(session, args);
    } catch (err) {
      const f = err instanceof GoogleToolFailure ? err : err instanceof GoogleTokenError ? tokenFailure(err, scopes) : null;
      if (!f) {
        call.s.logger.warn({ tenantId: call.t.id, tool, err: String(err).slice(0, 300) }, 'google tool failed');
        failure = 'internal';
        result = toolError(call.signal.aborted ? 'The call was cancelled.' : 'The Google tool failed unexpectedly. Try again later.');
      } else {
        failure = f.failure;
        result = toolError(f.message);
      }
    }
    await call.s.audit.recordInBackground(call.t, {
      actor: { kind: 'user', id: call.userId },
      action: 'connector.google.call',
      target: { kind: 'connector', id: call.connector.id },
      outcome: failure ? 'failure' : 'success',
      detail: { tool, clientId: call.clientId, subject: subject ?? email.slice(0, 254), methods: session?.methods ?? [], ...(failure && { error: failure }) },
    });
    return result;
  };
}
