import { Router, type Request, type RequestHandler, type Response } from 'express';
import type Provider from 'oidc-provider';
import { formBody } from '../http/body.js';
import { tenantOf } from '../http/resolve-tenant.js';
import { ADMIN_REGISTERED } from '../oauth/client-policy.js';
import { USER_DECISION } from '../oauth/hold-error-redirects.js';
import { loadSigningKeys } from '../oauth/signing-keys.js';
import type { Services } from '../services.js';
import { currentSession } from '../sessions/session-cookie.js';
import { loginUrl } from '../sso/login-url.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { listCallableTools } from '../tools/list-callable-tools.js';
import { renderConsentPage } from './consent-page.js';
import { consentAccounts } from '../upstream-auth/consent-accounts.js';
import { consentCovers, findConsent, recordConsent } from './consent-store.js';
import { csrfToken, csrfValid } from './csrf.js';
import { page } from './html.js';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;
interface PromptDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * Browsers check `form-action` on the redirects that follow a form submission too, so the consent form may lead
 * to our own origin and to the one place the decision is delivered: the client's redirect URI.
 */
function formTarget(redirect: URL | null): string {
  if (!redirect) return '';
  return redirect.protocol === 'http:' || redirect.protocol === 'https:' ? ` ${redirect.origin}` : ` ${redirect.protocol}`;
}

function sendPage(res: Response, status: number, html: string, redirect: URL | null = null) {
  // The consent decision must never be clickjacked or cached (MCP security best practices).
  res.status(status).set({ 'Cache-Control': 'no-store', 'X-Frame-Options': 'DENY', 'Content-Type': 'text/html; charset=utf-8' });
  res.setHeader(
    'Content-Security-Policy',
    `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'${formTarget(redirect)}; frame-ancestors 'none'; base-uri 'none'`,
  );
  res.send(html);
}

const expired = (res: Response, t: TenantCtx) =>
  sendPage(res, 400, page(t.name, 'This sign-in has expired', '<p>Go back to your app and start connecting again.</p>'));

/** Grants what the authorization request asked for (after consent) and lets oidc-provider issue the code. */
async function finishConsent(provider: Provider, req: Request, res: Response, details: Details, userId: string) {
  const clientId = String(details.params.client_id);
  const grant = (details.grantId && (await provider.Grant.find(details.grantId))) || new provider.Grant({ accountId: userId, clientId });
  const d = details.prompt.details as PromptDetails;
  if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
  if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function load(s: Services, t: TenantCtx, req: Request, res: Response) {
  const provider = await s.oauthProviders.get(t);
  const details = await provider.interactionDetails(req, res).catch(() => null);
  if (!details || details.uid !== req.params.uid) return null;
  const session = await currentSession(s, t, req);
  return { provider, details, session };
}

/**
 * The interaction of an authorization (or device) request: corporate SSO first, then consent to the tenant's tool
 * profile. A remembered consent that still covers the profile is applied without a page.
 */
export function interactionRoutes(s: Services): Router {
  const router = Router({ mergeParams: true });
  const selfPath = (t: TenantCtx, uid: string) => `/t/${t.slug}/oauth/interaction/${encodeURIComponent(uid)}`;

  const show: RequestHandler = async (req, res) => {
    const t = tenantOf(res);
    const loaded = await load(s, t, req, res);
    if (!loaded) return expired(res, t);
    const { provider, details, session } = loaded;
    // No SSO session (or it ended): sign in at the tenant's IdP, then come back to this interaction.
    if (!session) return res.redirect(303, loginUrl(s, t, selfPath(t, details.uid)));
    if (details.prompt.name === 'login') {
      return provider.interactionFinished(req, res, { login: { accountId: session.userId } }, { mergeWithLastSubmission: false });
    }
    // Someone else signed in since this request began: never let one user's consent complete another's request.
    if (session.userId !== details.session?.accountId) {
      const error = { error: 'login_required', error_description: 'The signed-in user changed; start again' };
      return provider.interactionFinished(req, res, error, { mergeWithLastSubmission: false });
    }
    const clientId = String(details.params.client_id);
    const tools = await listCallableTools(s, t, session.userId);
    const remembered = await findConsent(t, session.userId, clientId);
    if (consentCovers(remembered, tools.map((x) => x.name), t.settings.reconsentOnNewTools)) {
      return finishConsent(provider, req, res, details, session.userId);
    }
    const client = await provider.Client.find(clientId);
    if (!client) return expired(res, t);
    const redirectUri = typeof details.params.redirect_uri === 'string' ? details.params.redirect_uri : client.redirectUris?.[0];
    const redirect = redirectUri ? URL.parse(redirectUri) : null;
    const { cookieKeys } = await loadSigningKeys(s, t);
    sendPage(
      res,
      200,
      renderConsentPage({
        tenantName: t.name,
        clientName: client.clientName ?? clientId,
        clientId,
        origin: (client as unknown as Record<string, unknown>)[ADMIN_REGISTERED] ? 'admin' : clientId.startsWith('https://') ? 'cimd' : 'self',
        redirectHost: redirect ? (redirect.host || redirect.protocol) : 'this device',
        localhostOnly: (client.redirectUris ?? []).every((u) => LOOPBACK.has(URL.parse(u)?.hostname ?? '')),
        tools: tools.map((x) => ({ name: x.name, description: x.description })),
        userLabel: session.user.email ?? session.user.userName,
        formAction: selfPath(t, details.uid),
        appsUrl: `/t/${t.slug}/apps`,
        csrf: csrfToken(cookieKeys[0]!, t.id, details.uid, session.id),
        accounts: await consentAccounts(t, session.userId, selfPath(t, details.uid)),
      }),
      redirect,
    );
  };

  const decide: RequestHandler = async (req, res) => {
    const t = tenantOf(res);
    const loaded = await load(s, t, req, res);
    if (!loaded) return expired(res, t);
    const { provider, details, session } = loaded;
    const { cookieKeys } = await loadSigningKeys(s, t);
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (!session || session.userId !== details.session?.accountId || details.prompt.name !== 'consent' ||
        !csrfValid(cookieKeys[0]!, t.id, details.uid, session.id, body.csrf)) {
      return sendPage(res, 403, page(t.name, 'Request refused', '<p>This form is no longer valid. Go back to your app and start again.</p>'));
    }
    const clientId = String(details.params.client_id);
    const actor = { kind: 'user' as const, id: session.userId };
    const request = { ip: req.ip, userAgent: req.get('user-agent'), requestId: String(req.id ?? '') };
    if (body.decision !== 'approve') {
      await s.audit.record(t, { actor, action: 'oauth.consent.deny', target: { kind: 'oauth-client', id: clientId }, outcome: 'success', request });
      // RFC 6749 §4.1.2.1: the client learns only that the user said no. Marked as the user's decision: the one error
      // a self-registered client gets by redirect (hold-error-redirects.ts).
      const denied = { error: 'access_denied', error_description: 'The user denied the request', [USER_DECISION]: 'deny' };
      return provider.interactionFinished(req, res, denied, { mergeWithLastSubmission: false });
    }
    const tools = (await listCallableTools(s, t, session.userId)).map((x) => x.name);
    await recordConsent(t, s.clock, session.userId, clientId, tools);
    await s.audit.record(t, { actor, action: 'oauth.consent.grant', target: { kind: 'oauth-client', id: clientId }, outcome: 'success', request, detail: { tools: tools.length } });
    await finishConsent(provider, req, res, details, session.userId);
  };

  router.get('/oauth/interaction/:uid', show);
  router.post('/oauth/interaction/:uid', formBody('16kb'), decide);
  return router;
}
