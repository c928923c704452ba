import type { Request, Response } from 'express';
import type { Prisma } from '../../generated/prisma/client.js';
import { hashToken } from '../../lib/secrets.js';
import type { Services } from '../../services.js';
import { currentSession } from '../../sessions/session-cookie.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { peekLoginState, saveLoginState } from '../login-state.js';
import type { SsoSuccess } from '../oidc/finish-oidc-login.js';
import { SsoError, ssoMessages } from '../sso-error.js';
import { recordSsoTrace } from '../traces/sso-traces.js';
import type { SsoProfile } from '../users/map-profile.js';
import { dryRunSsoUser, type DryRunOutcome } from './dry-run.js';
import type { ReceivedClaims } from './received.js';

/** How long the last test's claims stay available for the mapping preview. */
export const TEST_RESULT_TTL_MS = 30 * 60_000;

export interface TestSignInResult {
  connectionId: string;
  at: string;
  received: ReceivedClaims;
  profile: SsoProfile;
  outcome: DryRunOutcome;
  /** The SSO trace of a refusal (the same trace a real login would have written). */
  traceId?: string;
}

// One result per admin session: kept server-side (LoginState, tenant-scoped, expiring), never in the browser.
const key = (adminSessionId: string) => `sso-test-result:${adminSessionId}`;

export const testResultUrl = (t: TenantCtx, connectionId: string) => `/t/${t.slug}/admin/sso/test-result?connection=${encodeURIComponent(connectionId)}`;

/**
 * The end of an admin's "Test sign-in" (instead of completeLogin): only the admin session that started it may see the
 * result; the user is resolved in a rolled-back dry run (dry-run.ts) and no session starts, so the admin stays signed
 * in as themself. The decoded claims, the mapped profile and the outcome are kept for the console; a refusal also
 * writes its SSO trace, as a real sign-in would.
 */
export async function completeTestSignIn(s: Services, req: Request, res: Response, ok: SsoSuccess): Promise<void> {
  const { t, conn, profile } = ok;
  const session = await currentSession(s, t, req);
  if (!session || session.id !== ok.purpose!.test!.adminSessionId) {
    throw Object.assign(new SsoError('test', 'test_other_session', ssoMessages.failed, 'the test sign-in was started by another console session', 403, { protocol: conn.kind }, conn.id), { tenant: t });
  }
  const outcome = await dryRunSsoUser(t, conn, profile, s.clock.now());
  let traceId: string | undefined;
  if (outcome.kind === 'refused') {
    traceId = await recordSsoTrace(s, t, new SsoError('user', outcome.code, outcome.message, `test sign-in: ${outcome.detail}`, 403, { protocol: conn.kind, issuer: conn.issuer, emailDomain: profile.email?.split('@')[1] }, conn.id));
  }
  const result: TestSignInResult = { connectionId: conn.id, at: s.clock.now().toISOString(), received: ok.received!, profile, outcome, ...(traceId && { traceId }) };
  await t.db.loginState.deleteMany({ where: { id: hashToken(key(session.id)) } });
  await saveLoginState(s, t, conn.id, key(session.id), JSON.parse(JSON.stringify({ kind: 'sso-test-result', ...result })) as Prisma.InputJsonObject, TEST_RESULT_TTL_MS);
  await s.audit.record(t, {
    actor: { kind: 'user', id: session.userId },
    action: 'sso.test',
    target: { kind: 'connection', id: conn.id },
    outcome: outcome.kind === 'refused' ? 'failure' : 'success',
    request: { ip: req.ip, userAgent: req.get('user-agent'), requestId: String(req.id ?? '') },
    detail: { connectionId: conn.id, protocol: conn.kind, result: outcome.kind, ...(traceId && { traceId }) },
  });
  res.redirect(303, testResultUrl(t, conn.id));
}

/** The admin session's last test result, while it lasts. */
export async function lastTestResult(s: Services, t: TenantCtx, adminSessionId: string): Promise<TestSignInResult | null> {
  const row = await peekLoginState(s, t, key(adminSessionId));
  if (!row || row.tenantId !== t.id || row.data.kind !== 'sso-test-result') return null;
  return row.data as unknown as TestSignInResult;
}
