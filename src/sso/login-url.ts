import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { safeReturnTo } from './return-to.js';

/**
 * The tenant's login page, which brings the browser back to `returnTo` after a successful SSO login.
 * `returnTo` must be a same-origin relative path (for example the OAuth consent page); anything else is dropped
 * and the user lands on the tenant's default page instead.
 */
export function loginUrl(s: Services, t: TenantCtx, returnTo: string): string {
  const base = `/t/${encodeURIComponent(t.slug)}/login`;
  const safe = safeReturnTo(returnTo, '', s.config.publicUrl);
  return safe ? `${base}?return_to=${encodeURIComponent(safe)}` : base;
}
