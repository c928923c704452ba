import { Router, type Request } from 'express';
import { z } from 'zod';
import { formBody } from '../http/body.js';
import { bindBrowser, browserBindingProblem } from '../sso/browser-binding.js';
import { requestFacts } from '../sso/http/complete-login.js';
import { AppError } from '../lib/errors.js';
import type { Services } from '../services.js';
import { startSession } from '../sessions/start-session.js';
import { html } from '../views/html.js';
import { createSetupAdmin } from './first-admin.js';
import { messageBody, onboardingMessages, sendOnboardingPage } from './onboarding-pages.js';
import { consumeSetupLink, peekSetupLink, recordSetupLinkUser } from './setup-links.js';

const Form = z.object({ email: z.email().max(254), name: z.string().max(200).optional(), binding: z.string().max(100) });

/**
 * `GET /setup/{token}` shows what the link does and asks for the admin's e-mail; it never spends the link (mail
 * scanners and chat previews fetch links). `POST` spends it, creates the admin, signs them in and sends them to
 * the admin console `/t/{slug}/admin`, where they configure SSO and SCIM. The form is bound to the browser that loaded
 * it (the login-binding cookie, as /signup's): a page elsewhere that auto-posts the attacker's own link would otherwise
 * sign a visitor's browser in as the admin of the attacker's tenant (login CSRF), and whatever that browser then
 * installs or connects would land there.
 */
export function setupLinkRoutes(s: Services): Router {
  const r = Router();
  const token = (req: Request) => String(req.params.token ?? '');
  r.get('/setup/:token', async (req, res) => {
    const link = await peekSetupLink(s, token(req));
    if (!link) return sendOnboardingPage(res, 404, 'Setup link not usable', messageBody(onboardingMessages.setupInvalid));
    const binding = bindBrowser(s, req, res);
    sendOnboardingPage(
      res,
      200,
      'Finish setting up your organisation',
      html`<p>This link makes you the first administrator of <strong>${link.t.name}</strong> (tenant <code>${link.t.slug}</code>). It works once and expires at ${link.expiresAt.toISOString()}.</p>
<form method="post">
<input type="hidden" name="binding" value="${binding}">
<p><label>Your work e-mail<br><input type="email" name="email" required autocomplete="email"></label></p>
<p><label>Your name<br><input type="text" name="name" autocomplete="name"></label></p>
<button type="submit">Become administrator</button>
</form>`,
      link.t.name,
    );
  });
  r.post('/setup/:token', formBody('16kb'), async (req, res) => {
    const parsed = Form.safeParse(req.body ?? {});
    if (!parsed.success) return sendOnboardingPage(res, 400, 'Check the form', messageBody('Enter a valid e-mail address.'));
    // The e-mail is checked before the link is spent, so a typo or a taken e-mail does not burn the link.
    const peek = await peekSetupLink(s, token(req));
    if (!peek) return sendOnboardingPage(res, 404, 'Setup link not usable', messageBody(onboardingMessages.setupInvalid));
    if (browserBindingProblem(s, req, parsed.data.binding)) return sendOnboardingPage(res, 400, 'Start again', messageBody(onboardingMessages.badState));
    const email = parsed.data.email.toLowerCase();
    if (await peek.t.db.user.findFirst({ where: { OR: [{ email }, { userNameKey: email }] }, select: { id: true } })) {
      return sendOnboardingPage(res, 409, 'Account exists', messageBody('This e-mail already has an account in this organisation: sign in with single sign-on instead, or use another e-mail.'));
    }
    const spent = await consumeSetupLink(s, token(req));
    if (!spent) return sendOnboardingPage(res, 404, 'Setup link not usable', messageBody(onboardingMessages.setupInvalid));
    let user;
    try {
      user = await createSetupAdmin(spent.t, { email, displayName: parsed.data.name });
    } catch (err) {
      if (err instanceof AppError && err.status === 409) return sendOnboardingPage(res, 409, 'Account exists', messageBody(err.message));
      throw err;
    }
    await recordSetupLinkUser(spent.t, spent.linkId, user.id);
    await startSession(s, spent.t, req, res, { userId: user.id, connectionId: null });
    await s.audit.record(spent.t, { actor: { kind: 'user', id: user.id }, action: 'setup-link.use', target: { kind: 'setup-link', id: spent.linkId }, outcome: 'success', request: requestFacts(req), detail: { admin: user.id } });
    res.redirect(303, `/t/${spent.t.slug}/admin`);
  });
  return r;
}
