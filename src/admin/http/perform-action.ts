import type { Request, Response } from 'express';
import { AppError } from '../../lib/errors.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { isSensitive, runAdminAction } from '../actions/admin-action.js';
import { adminActions } from '../actions/all-actions.js';
import { auditRefusal, authIsFresh, stateChangeAllowed, type SignedInAdmin } from './admin-session.js';

/** Why a console state change was refused before it ran. */
export class ActionRefused extends AppError {
  constructor(
    status: number,
    code: 'csrf' | 'reauth_required' | 'not_found',
    message: string,
    readonly reauthUrl?: string,
  ) {
    super(status, code, message);
  }
}

export const reauthUrl = (t: TenantCtx, returnTo: string) => `/t/${t.slug}/admin/reauth?return_to=${encodeURIComponent(returnTo)}`;

/**
 * Every console state change, from a form or the JSON API, passes here: a known action, the session's CSRF token
 * from our own origin, a fresh SSO sign-in for sensitive actions, then the shared action (validated and audited).
 * Refusals are audited as `admin.request.refused` (outcome denied) and thrown as {@link ActionRefused}.
 */
export async function performAction(s: Services, t: TenantCtx, req: Request, res: Response, admin: SignedInAdmin, name: string, input: unknown, returnTo: string) {
  const action = Object.hasOwn(adminActions, name) ? adminActions[name] : undefined;
  if (!action) throw new ActionRefused(404, 'not_found', `No admin action "${name}"`);
  if (!stateChangeAllowed(s, t, req)) {
    await auditRefusal(s, t, req, res, 'admin.request.refused', `csrf: ${action.name}`, admin.session.userId);
    throw new ActionRefused(403, 'csrf', 'This form has expired or did not come from the console. Reload the page and try again.');
  }
  if (!authIsFresh(s, admin.session) && (await isSensitive(action, t, input))) {
    await auditRefusal(s, t, req, res, 'admin.request.refused', `reauth: ${action.name}`, admin.session.userId);
    throw new ActionRefused(401, 'reauth_required', 'For this change, confirm it is you: sign in again with your company account.', reauthUrl(t, returnTo));
  }
  return runAdminAction(s, t, admin.actor, action, input as never);
}
