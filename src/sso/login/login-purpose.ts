import type { Prisma } from '../../generated/prisma/client.js';
import type { Services } from '../../services.js';

/** Clock skew tolerated between us and the IdP when checking that a forced sign-in really happened just now. */
export const AUTHN_SKEW_MS = 2 * 60_000;

/**
 * Why an SP-initiated login runs, beyond signing in: `forceLogin` (the console's re-authentication and "Test
 * sign-in": SAML ForceAuthn, OIDC `prompt=login` + `max_age=0`) and `test` (a dry run for the admin whose session
 * started it: no user is created or changed and no session starts, test-sign-in.ts).
 */
export interface LoginPurpose {
  forceLogin?: boolean;
  test?: { adminSessionId: string };
}

/** What the LoginState row remembers of the purpose (with the time of the request, for the freshness check). */
export function forcedLoginState(s: Services, p: LoginPurpose): Prisma.InputJsonObject {
  return {
    ...(p.forceLogin && { forceLogin: true, requestedAt: s.clock.now().toISOString() }),
    ...(p.test && { test: { adminSessionId: p.test.adminSessionId } }),
  };
}

export function purposeOfState(data: Record<string, unknown>): LoginPurpose & { requestedAt?: Date } {
  const test = data.test as { adminSessionId?: unknown } | undefined;
  return {
    ...(data.forceLogin === true && { forceLogin: true, requestedAt: new Date(String(data.requestedAt)) }),
    ...(typeof test?.adminSessionId === 'string' && { test: { adminSessionId: test.adminSessionId } }),
  };
}

/**
 * A forced sign-in must have authenticated the user after we asked (minus skew): an IdP that ignored ForceAuthn /
 * `prompt=login` and answered from its session cookie would otherwise satisfy "sign in again" without the admin
 * entering anything (OIDC Core §3.1.2.1 `max_age` makes `auth_time` REQUIRED; SAML core §2.7.2 AuthnInstant).
 * Returns the problem, or null.
 */
export function staleAuthentication(requestedAt: Date | undefined, authnInstant: Date | null): string | null {
  if (!requestedAt || Number.isNaN(requestedAt.getTime())) return null;
  if (!authnInstant || Number.isNaN(authnInstant.getTime())) return 'the IdP was asked to authenticate the user again but did not say when it did (no AuthnInstant / auth_time)';
  if (authnInstant.getTime() < requestedAt.getTime() - AUTHN_SKEW_MS) {
    return `the IdP was asked to authenticate the user again at ${requestedAt.toISOString()} but answered with an authentication of ${authnInstant.toISOString()} (its own session; ForceAuthn / prompt=login ignored)`;
  }
  return null;
}
