import type { TenantCtx } from '../tenants/tenant-context.js';

/**
 * A failed SSO login. `message` is safe to show the user; `detail` (what exactly failed, library messages) goes only
 * to the SSO trace an admin looks up by id; `summary` is a redacted view of what the IdP sent.
 */
export class SsoError extends Error {
  constructor(
    readonly stage: string,
    readonly code: string,
    message: string,
    readonly detail?: string,
    readonly status = 400,
    public summary: Record<string, unknown> = {},
    public connectionId: string | null = null,
  ) {
    super(message);
    this.name = 'SsoError';
  }
  /** The tenant the failed login belongs to, once known (the shared OIDC callback learns it from the state). */
  tenant: TenantCtx | null = null;
  /** Set when the failed login was an admin's "Test sign-in" of this connection: the error page sends the admin back
   * to the console's test result, which shows this failure's trace (test-sign-in.ts). */
  testOf: string | null = null;
}

export const ssoMessages = {
  failed: 'Sign-in failed. Try again, or contact your administrator with the trace id below.',
  expired: 'This sign-in attempt has expired or was already used. Start again from the sign-in page.',
  otherBrowser: 'This sign-in was started in another browser, or your browser did not keep its sign-in cookie. Start again from the sign-in page in this browser.',
  idpInitiatedOff: 'Signing in from your company\'s app dashboard is turned off for this organisation. Start from the sign-in page below.',
  notProvisioned: 'You do not have an account here yet. Ask your administrator to give you access.',
  inactive: 'Your account is deactivated. Ask your administrator if you think this is a mistake.',
  linkRefused: 'An account with your e-mail already exists but is linked to another sign-in method. Ask your administrator.',
  noConnection: 'Single sign-on is not set up for this organisation yet. Ask your administrator.',
  tooManyStarts: (retryAfterS: number) => `Too many sign-in attempts from your network. Try again in ${retryAfterS} seconds.`,
} as const;
