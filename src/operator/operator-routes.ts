import { Router, type Request, type Response } from 'express';
import { formBody } from '../http/body.js';
import { clientNetwork, RateLimiter, rateRules, tooManyRequests, type RateRule } from '../http/rate-limit.js';
import { AppError } from '../lib/errors.js';
import type { Services } from '../services.js';
import { sendConsole } from '../views/console-layout.js';
import { html } from '../views/html.js';
import { actorOf, operatorActions } from './operator-actions.js';
import { operatorHome, operatorLayout, signInForm, type OperatorHome, type OperatorNotice } from './operator-pages.js';
import { tenantOverview } from './operator-queries.js';
import { currentOperator, endOperatorSession, operatorStateChangeAllowed, startOperatorSession, type OperatorSignedIn } from './operator-session.js';
import { verifyOperatorToken } from './operator-tokens.js';
import { pendingSignups } from '../onboarding/onboarding-commands.js';

const doneMessages: Record<string, string> = {
  'tenant-disable': 'Tenant disabled.',
  'tenant-enable': 'Tenant enabled.',
  'signup-approve': 'Sign-up approved.',
  'signup-reject': 'Sign-up declined.',
};

/**
 * `/operator`: the service's own operators (deployment-level, not a tenant's admins). Signed in with an operator token
 * (`operator token create`), then a server-side session (operator-session.ts). Every state change carries the
 * session's CSRF token; every sign-in, sign-out, refusal and action is audited in the global chain (tenant-scoped
 * actions in the tenant's chain, as their CLI commands do) with actor kind `operator`, and logged at info.
 */
export function operatorRoutes(s: Services): Router {
  const r = Router();
  const limiter = new RateLimiter(s.db, s.clock);
  const limits = (req: Request): [RateRule, string][] => [[rateRules.operatorFailNet, clientNetwork(req.ip)], [rateRules.operatorFailAll, 'all']];
  const requestOf = (req: Request) => ({ ip: req.ip, userAgent: req.get('user-agent'), requestId: String(req.id ?? '') });

  const send = (res: Response, status: number, p: Parameters<typeof operatorLayout>[0]) => sendConsole(res, status, (nonce) => operatorLayout(p, nonce));
  const signInPage = (res: Response, status: number, notice?: OperatorNotice) => send(res, status, { title: 'Operator sign-in', notice, body: signInForm() });

  async function home(res: Response, who: OperatorSignedIn, status = 200, notice?: OperatorNotice, created?: OperatorHome['created']) {
    const [tenants, pending] = await Promise.all([tenantOverview(s), pendingSignups(s)]);
    send(res, status, { title: 'Tenants', operator: who.operator.name, csrf: who.csrf, notice, body: operatorHome({ csrf: who.csrf, signupPolicy: s.config.signupPolicy, tenants, pending, created }) });
  }

  async function audit(req: Request, action: string, outcome: 'success' | 'failure' | 'denied', op: { id: string; name: string } | null, detail: Record<string, unknown> = {}) {
    s.logger.info({ operator: op?.name ?? null, action, outcome, ...detail }, 'operator event');
    await s.audit.record(null, { actor: op ? actorOf(op) : { kind: 'operator' }, action, outcome, request: requestOf(req), detail: { ...(op && { operator: op.name }), ...detail } });
  }

  r.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  r.get('/', async (req, res) => {
    const who = await currentOperator(s, req);
    if (!who) return signInPage(res, 200);
    const done = typeof req.query.done === 'string' && Object.hasOwn(doneMessages, req.query.done) ? doneMessages[req.query.done] : undefined;
    await home(res, who, 200, done ? { kind: 'ok', text: done } : undefined);
  });

  r.post('/sign-in', formBody('16kb'), async (req, res) => {
    const origin = req.get('origin');
    // No session yet, so no CSRF token: refuse a cross-site form by its Origin (login CSRF, OWASP cheat sheet).
    if (origin && origin !== new URL(s.config.publicUrl).origin) {
      await audit(req, 'operator.sign-in', 'denied', null, { reason: 'origin' });
      return signInPage(res, 403, { kind: 'error', text: 'This form did not come from this site.' });
    }
    // The token first: a valid one always signs in. The limits only bound refusals (and the audit rows they write);
    // checked before the token, anyone's failures from a few networks would lock every operator out (a 256-bit token
    // cannot be guessed, so nothing is lost by letting a right one through).
    const op = await verifyOperatorToken(s.db, (req.body as Record<string, unknown> | undefined)?.token, s.clock.now());
    if (!op) {
      const before = await limiter.check(limits(req));
      if (!before.ok) {
        tooManyRequests(res, before);
        return signInPage(res, 429, { kind: 'error', text: 'Too many failed sign-ins. Try again later.' });
      }
      await limiter.hit(limits(req));
      await audit(req, 'operator.sign-in', 'failure', null, { reason: 'bad token' });
      return signInPage(res, 401, { kind: 'error', text: 'That operator token is not valid.' });
    }
    await startOperatorSession(s, res, op.id);
    await audit(req, 'operator.sign-in', 'success', op);
    res.redirect(303, '/operator');
  });

  r.post('/sign-out', formBody('16kb'), async (req, res) => {
    const who = await currentOperator(s, req);
    if (!who) return void res.redirect(303, '/operator');
    if (!operatorStateChangeAllowed(s, req)) {
      await audit(req, 'operator.request.refused', 'denied', who.operator, { reason: 'csrf: sign-out' });
      return void (await home(res, who, 403, { kind: 'error', text: 'This form has expired or did not come from this page. Reload and try again.' }));
    }
    await endOperatorSession(s, res, who.sessionId);
    await audit(req, 'operator.sign-out', 'success', who.operator);
    res.redirect(303, '/operator');
  });

  r.post('/actions/:name', formBody('16kb'), async (req, res) => {
    const who = await currentOperator(s, req);
    if (!who) return signInPage(res, 401, { kind: 'warn', text: 'Signed out (inactivity or sign-out): sign in again.' });
    const name = String(req.params.name);
    const run = Object.hasOwn(operatorActions, name) ? operatorActions[name] : undefined;
    if (!operatorStateChangeAllowed(s, req)) {
      await audit(req, 'operator.request.refused', 'denied', who.operator, { reason: `csrf: ${name.slice(0, 40)}` });
      return void (await home(res, who, 403, { kind: 'error', text: 'This form has expired or did not come from this page. Reload and try again.' }));
    }
    if (!run) return void (await home(res, who, 404, { kind: 'error', text: 'No such action.' }));
    const slug = String((req.body as Record<string, unknown>).tenant ?? '').slice(0, 100);
    try {
      const result = await run(s, slug, who.operator);
      s.logger.info({ operator: who.operator.name, action: name, tenant: slug }, 'operator action');
      // One-time links are shown in this response only: never in a URL, a redirect or a later page.
      const url = name === 'setup-link' ? result.url : result.setupLink;
      if (typeof url === 'string') {
        const expiresAt = String(name === 'setup-link' ? result.expiresAt : result.setupLinkExpiresAt);
        return void (await home(res, who, 200, { kind: 'ok', text: name === 'setup-link' ? 'Setup link created.' : 'Sign-up approved.' }, { tenant: slug, url, expiresAt }));
      }
      res.redirect(303, `/operator?done=${encodeURIComponent(name)}`);
    } catch (err) {
      if (!(err instanceof AppError && err.expose)) throw err;
      await audit(req, `operator.${name}`, 'failure', who.operator, { tenant: slug, reason: err.message });
      await home(res, who, err.status, { kind: 'error', text: err.message });
    }
  });

  r.use((_req, res) => send(res, 404, { title: 'Page not found', body: html`<p><a href="/operator">Back to the operator view</a></p>` }));
  return r;
}
