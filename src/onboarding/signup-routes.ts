import { Router } from 'express';
import { z } from 'zod';
import { formBody } from '../http/body.js';
import { clientNetwork, RateLimiter, rateRules, tooManyRequests } from '../http/rate-limit.js';
import type { Services } from '../services.js';
import { bindBrowser, browserBindingProblem } from '../sso/browser-binding.js';
import { html } from '../views/html.js';
import { createInstalledTenant } from './install-tenant.js';
import { messageBody, onboardingMessages, sendOnboardingPage } from './onboarding-pages.js';
import { createSetupLink, setupPath } from './setup-links.js';

const Form = z.object({ organisation: z.string().trim().min(2).max(200), email: z.email().max(254), binding: z.string().max(100) });

/**
 * Self-service sign-up (`/signup`) under the deployment's SIGNUP_POLICY: `open` creates the tenant and continues at
 * its setup link; `approval` creates it disabled and queues it for `signup approve`; `invite-only` explains that
 * operators hand out setup links. The form is bound to the browser (the login-binding cookie), so another site
 * cannot sign a visitor up into an organisation of its choosing.
 */
export function signupRoutes(s: Services): Router {
  const r = Router();
  const limiter = new RateLimiter(s.db, s.clock);
  r.get('/signup', (req, res) => {
    if (s.config.signupPolicy === 'invite-only') return sendOnboardingPage(res, 403, 'Sign-up by invitation', messageBody(onboardingMessages.signupClosed));
    const binding = bindBrowser(s, req, res);
    sendOnboardingPage(
      res,
      200,
      'Set up SSO Bridge for your organisation',
      html`${s.config.signupPolicy === 'approval' ? html`<p>New organisations are reviewed before they are activated.</p>` : ''}
<form method="post">
<input type="hidden" name="binding" value="${binding}">
<p><label>Organisation name<br><input type="text" name="organisation" required minlength="2" maxlength="200"></label></p>
<p><label>Your work e-mail<br><input type="email" name="email" required autocomplete="email"></label></p>
<button type="submit">Continue</button>
</form>`,
    );
  });
  r.post('/signup', formBody('16kb'), async (req, res) => {
    if (s.config.signupPolicy === 'invite-only') return sendOnboardingPage(res, 403, 'Sign-up by invitation', messageBody(onboardingMessages.signupClosed));
    const parsed = Form.safeParse(req.body ?? {});
    if (!parsed.success) return sendOnboardingPage(res, 400, 'Check the form', messageBody('Enter your organisation’s name and a valid e-mail address.'));
    if (browserBindingProblem(s, req, parsed.data.binding)) return sendOnboardingPage(res, 400, 'Start again', messageBody(onboardingMessages.badState));
    // Every accepted sign-up writes a tenant: bounded per client network and deployment-wide, across nodes (issue 8 §6).
    const verdict = await limiter.hit([[rateRules.signupNet, clientNetwork(req.ip)], [rateRules.signupAll, 'all']]);
    if (!verdict.ok) {
      tooManyRequests(res, verdict).set('Cache-Control', 'no-store');
      return sendOnboardingPage(res, 429, 'Too many sign-ups', messageBody('Too many organisations were signed up from your network recently. Try again later.'));
    }
    const { t, pending } = await createInstalledTenant(s, { name: parsed.data.organisation, source: 'signup', contact: parsed.data.email.toLowerCase() });
    if (pending) return sendOnboardingPage(res, 202, 'Request received', messageBody(onboardingMessages.pending));
    const link = await createSetupLink(s, t, 'signup');
    res.redirect(303, setupPath(link.url.slice(link.url.lastIndexOf('/') + 1)));
  });
  return r;
}
