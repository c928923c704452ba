import type { Response } from 'express';
import { html, type SafeHtml } from '../views/html.js';
import { layout, sendPage } from '../views/layout.js';

/** Onboarding pages: the product's name stands where a tenant's would (there may be no tenant yet). */
export function sendOnboardingPage(res: Response, status: number, title: string, body: SafeHtml, org = 'SSO Bridge'): void {
  // Setup links carry their token in the path: never leak it to another site in a Referer header.
  res.set('Referrer-Policy', 'no-referrer');
  sendPage(res, status, layout({ tenantName: org, title, body }));
}

export const messageBody = (message: string, detail?: string) => html`<p role="alert">${message}</p>${detail ? html`<p>${detail}</p>` : ''}`;

/** Every refusal of the install flows: a clear sentence for the admin, what to do next, never internal details. */
export const onboardingMessages = {
  badState: 'This sign-up link has expired or was already used, or it was opened in another browser. Start again from the catalog.',
  declined: 'Consent was declined, so nothing was set up. An administrator of your Microsoft Entra tenant must grant consent to add the app.',
  consentRequired: 'An administrator must grant consent for your organisation. Ask a Global Administrator, Privileged Role Administrator or Cloud Application Administrator to use “Add to Entra”.',
  notAdmin: 'Only an administrator of your directory can add the app for your organisation. Ask an administrator to complete the install.',
  tenantMismatch: 'The account you signed in with belongs to another directory than the one that granted consent. Sign in with an administrator of the consenting directory.',
  boundElsewhere: 'Your directory is already connected to another organisation in SSO Bridge. Sign in from that organisation’s page, or contact support.',
  signupClosed: 'New organisations are set up by invitation. Contact us for a setup link.',
  pending: 'Your organisation is waiting for approval. You will receive a setup link once it is approved.',
  pendingInstall: 'Your organisation is waiting for approval, and you are its administrator. Once it is approved, open the app again the same way and you will land in its admin console.',
  notInstalled: 'Your Google Workspace domain has not installed the app, or its licence has ended. A super administrator must install it from the Google Workspace Marketplace first.',
  notWorkspace: 'Sign in with a Google Workspace account of your organisation (personal Google accounts cannot install the app).',
  notConfigured: 'This install path is not configured on this deployment.',
  entraSignInOff: 'Your organisation is connected, but its administrators have switched Microsoft Entra sign-in off. Sign in from your organisation’s sign-in page, or ask its administrators.',
  tooManyStarts: 'Too many installs were started from your network in the last minutes. Try again in ten minutes.',
  failed: 'Something went wrong while setting up your organisation. Try again; if it keeps failing, contact support with the time of the attempt.',
  setupInvalid: 'This setup link is invalid, was already used, or has expired. Ask for a new one.',
};
