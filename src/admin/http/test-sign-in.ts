import { Router, type Request, type Response } from 'express';
import { formBody } from '../../http/body.js';
import { tenantOf } from '../../http/resolve-tenant.js';
import type { Services } from '../../services.js';
import { bindBrowser } from '../../sso/browser-binding.js';
import { findConnectionEvenDisabled } from '../../sso/connections/manage-connections.js';
import { testResultUrl } from '../../sso/login/test-sign-in.js';
import { startOidcLogin } from '../../sso/oidc/start-oidc-login.js';
import { startSamlLogin } from '../../sso/saml/start-saml-login.js';
import { SsoError } from '../../sso/sso-error.js';
import { recordSsoTrace } from '../../sso/traces/sso-traces.js';
import { consoleLayout, sendConsole, type ConsolePage } from '../../views/console-layout.js';
import type { Mapping } from '../../sso/connections/connection-config.js';
import { MappingInput } from '../actions/idp-actions.js';
import { connectionTestPage } from '../pages/sso-test-page.js';
import { connectionTest, previewMapping } from '../queries/sso-test.js';
import { auditRefusal, stateChangeAllowed, type SignedInAdmin } from './admin-session.js';
import { doneMessages, mapping as mappingOfForm } from './console-forms.js';

const q = (req: Request, name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);

/**
 * "Test sign-in" (SSO wizard): `test?connection=ID` starts a real, forced sign-in (SAML ForceAuthn, OIDC
 * `prompt=login`) through that connection — turned on or not — marked as this admin session's dry run; the IdP's
 * answer ends in completeTestSignIn (src/sso/login/test-sign-in.ts), which comes back to `test-result`: the claims as
 * received, the user they map to (or would create) and groups, or the SSO trace of the failure; and the attribute
 * mapping with a preview over those claims (`mapping-preview`, also `POST api/admin/sso/mapping-preview`).
 */
export function testSignInRoutes(s: Services): Router {
  const r = Router({ mergeParams: true });
  const admin = (res: Response) => res.locals.admin as SignedInAdmin;

  r.get('/test', async (req, res) => {
    const t = tenantOf(res);
    const conn = q(req, 'connection') ? await findConnectionEvenDisabled(t, q(req, 'connection')!) : null;
    if (!conn) return void res.redirect(303, `/t/${t.slug}/admin/sso`);
    const back = testResultUrl(t, conn.id);
    const purpose = { forceLogin: true, test: { adminSessionId: admin(res).session.id } };
    try {
      const browser = bindBrowser(s, req, res);
      const url = conn.kind === 'saml' ? await startSamlLogin(s, t, conn, back, browser, purpose) : await startOidcLogin(s, t, conn, { returnTo: back, browser, purpose });
      res.redirect(303, url);
    } catch (err) {
      // The login could not even start (discovery failed, every IdP certificate expired…): its trace, on the test page.
      if (!(err instanceof SsoError)) throw err;
      const traceId = await recordSsoTrace(s, t, Object.assign(err, { connectionId: err.connectionId ?? conn.id }));
      res.redirect(303, `${back}&trace=${encodeURIComponent(traceId)}`);
    }
  });

  async function render(req: Request, res: Response, connectionId: string | undefined, o: { mapping?: Mapping; status?: number; notice?: ConsolePage['notice'] } = {}) {
    const t = tenantOf(res);
    const a = admin(res);
    const v = connectionId ? await connectionTest(s, t, a.session.id, connectionId, q(req, 'trace')) : null;
    if (!v) return void res.redirect(303, `/t/${t.slug}/admin/sso`);
    const mapping = o.mapping ?? v.connection.mapping;
    const preview = v.result ? previewMapping(v.result, mapping) : null;
    const done = q(req, 'done') === 'idp-update' ? { kind: 'ok' as const, text: doneMessages['idp-update']! } : undefined;
    const body = connectionTestPage(v, { slug: t.slug, csrf: a.csrf, mapping, preview });
    const page: ConsolePage = { tenant: { slug: t.slug, name: t.name }, admin: { name: a.name }, csrf: a.csrf, section: 'sso', title: `Test sign-in: ${v.connection.name}`, notice: o.notice ?? done, body };
    sendConsole(res, o.status ?? 200, (nonce) => consoleLayout(page, nonce));
  }

  r.get('/test-result', (req, res) => render(req, res, q(req, 'connection')));

  // "Preview" without JavaScript: re-renders with the submitted names; nothing is saved. A POST (the form also holds
  // the CSRF token, which must never travel in a URL), checked like any console form.
  r.post('/mapping-preview', formBody(), async (req, res) => {
    const t = tenantOf(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const id = typeof body.id === 'string' ? body.id : undefined;
    if (!stateChangeAllowed(s, t, req)) {
      await auditRefusal(s, t, req, res, 'admin.request.refused', 'csrf: mapping-preview', admin(res).session.userId);
      return render(req, res, id, { status: 403, notice: { kind: 'error', text: 'This form has expired or did not come from the console. Reload the page and try again.' } });
    }
    const parsed = MappingInput.safeParse(mappingOfForm(body));
    if (!parsed.success) return render(req, res, id, { status: 400, notice: { kind: 'error', text: parsed.error.issues.map((i) => `${i.path.join('.') || 'mapping'}: ${i.message}`).join('; ') } });
    await render(req, res, id, { mapping: parsed.data, notice: { kind: 'ok', text: 'Preview only: the mapping is not saved until you choose "Save mapping".' } });
  });
  return r;
}
