import type { ErrorRequestHandler, Response } from 'express';
import { classifyBodyError } from '../../http/error-handler.js';
import { RateLimiter, rateRules, tenantAndNetwork, tooManyRequests, type RateVerdict } from '../../http/rate-limit.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { html } from '../../views/html.js';
import { layout, sendPage } from '../../views/layout.js';
import { SsoError, ssoMessages } from '../sso-error.js';
import { recordSsoTrace } from '../traces/sso-traces.js';
import { requestFacts } from './complete-login.js';
import { testResultUrl } from '../login/test-sign-in.js';

/**
 * The SSO routers' one error handler: every failed login becomes an SSO trace (when its tenant is known) and a
 * server-rendered page that names the tenant and shows the trace id. Unexpected errors get the same page with a
 * generic message; details stay in the log and the trace, never in the page.
 */
export function ssoErrorHandler(s: Services, tenantOf: (res: Parameters<ErrorRequestHandler>[2]) => TenantCtx | null): ErrorRequestHandler {
  const limiter = new RateLimiter(s.db, s.clock);
  return async (err, req, res, _next) => {
    const body = classifyBodyError(err);
    const sso =
      err instanceof SsoError
        ? err
        : body
          ? new SsoError('request', `body_${body.reason}`, ssoMessages.failed, 'the form post could not be read', body.status)
          : new SsoError('internal', 'internal_error', ssoMessages.failed, (err as Error)?.message, 500);
    const t = sso.tenant ?? tenantOf(res);
    if (sso.status >= 500) req.log?.error({ err }, 'SSO login failed unexpectedly');
    else req.log?.info({ stage: sso.stage, code: sso.code, detail: sso.detail }, 'SSO login refused');
    let traceId: string | null = null;
    // Failures write a trace and an audit line: per (tenant, client network) and per tenant they are bounded; over
    // the limit the page says so (429, Retry-After) and nothing is stored (issue 8 §6). Successes are never counted.
    const limited = t
      ? await limiter.hit(tenantAndNetwork(rateRules.ssoFailNet, rateRules.ssoFailTenant, t.id, req.ip)).catch((limitErr: unknown) => {
          // The page must still render when the database is what failed (the trace below will fail and say so).
          req.log?.error({ err: limitErr }, 'could not count the failed login');
          return { ok: true } as const;
        })
      : ({ ok: true } as const);
    if (!limited.ok) {
      if (res.headersSent) return void res.end();
      return sendTooManyFailures(res, t!, limited);
    }
    if (t) {
      try {
        traceId = await recordSsoTrace(s, t, sso);
        await s.audit.record(t, { actor: { kind: 'idp', id: sso.connectionId }, action: 'sso.login', outcome: 'failure', request: requestFacts(req), detail: { stage: sso.stage, code: sso.code, traceId } });
      } catch (traceErr) {
        req.log?.error({ err: traceErr }, 'could not store the SSO trace');
      }
    }
    if (res.headersSent) return void res.end();
    // A failed "Test sign-in": back to the console, which shows this trace to the admin who ran it.
    if (sso.testOf && t && traceId) return void res.redirect(303, `${testResultUrl(t, sso.testOf)}&trace=${encodeURIComponent(traceId)}`);
    const page = html`<div role="alert"><p>${sso.message}</p></div>
${traceId ? html`<p>Trace id: <code class="trace">${traceId}</code></p>` : html`<p>Request id: <code class="trace">${String(req.id ?? '')}</code></p>`}
${t ? html`<p><a href="/t/${t.slug}/login">Back to sign-in</a></p>` : ''}`;
    sendPage(res, sso.status, layout({ tenantName: t?.name ?? 'SSO Bridge', title: 'Sign-in failed', body: page }));
  };
}

/** 429 for a client network that has used up its failed logins (also refused before the work: saml-routes.ts). */
export function sendTooManyFailures(res: Response, t: TenantCtx, limited: Extract<RateVerdict, { ok: false }>): void {
  tooManyRequests(res, limited);
  const busy = html`<div role="alert"><p>Too many failed sign-in attempts from your network. Try again in ${String(limited.retryAfterS)} seconds.</p></div>`;
  sendPage(res, 429, layout({ tenantName: t.name, title: 'Sign-in failed', body: busy }));
}
