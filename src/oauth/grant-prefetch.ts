import { AsyncLocalStorage } from 'node:async_hooks';
import type { AdapterPayload } from 'oidc-provider';
import type { TenantCtx } from '../tenants/tenant-context.js';

/**
 * The grant of a token request, read in the statement that reads the request's code or claims its refresh token
 * (issue 17 §5: one round trip fewer per grant). Both oidc-provider grant handlers look the Grant up by the id the
 * code or token names right after (authorization_code: after consuming the code; refresh_token: after loading the
 * token); the Grant adapter's `find` is answered from here instead of the database, once, for that tenant and that
 * id only, and only while the grant has not expired by the application clock — what the database lookup checks
 * (payload-statements.ts, FIND_LIVE). The read happens one statement earlier than oidc-provider's own lookup did
 * (with the code or the claim, not after it): a revocation committed in between is seen by the successor's write no
 * later than before — the window between reading the grant and writing the new tokens, which always existed, is one
 * round trip longer; the revocation's own deletes and 'grant.revoked' (revoke-grants.ts) act as they did on a request
 * inside that window.
 */
interface Prefetched {
  tenantId: string;
  grantId: string;
  row: { payload: AdapterPayload; expiresAt: Date | null } | null;
}

const store = new AsyncLocalStorage<{ grant?: Prefetched }>();

/** Runs a token request with a place for its grant. */
export const runWithGrantPrefetch = <T>(fn: () => Promise<T>) => store.run({}, fn);

/** Keeps the grant read with the code or the claimed token (`row` null: no such grant of this tenant). */
export function keepGrant(t: TenantCtx, grantId: string, row: Prefetched['row']): void {
  const s = store.getStore();
  if (s) s.grant = { tenantId: t.id, grantId, row };
}

/** Whether a grant read alongside would be used: only inside a token request. */
export const prefetching = () => store.getStore() !== undefined;

/**
 * The Grant adapter's lookup: the kept grant if it is this tenant's grant `id` (then forgotten), else undefined
 * (look in the database). Null: there is no live grant.
 */
export function takeGrant(t: TenantCtx, id: string, now: Date): { payload: AdapterPayload } | null | undefined {
  const s = store.getStore();
  const kept = s?.grant;
  if (!kept || kept.tenantId !== t.id || kept.grantId !== id) return undefined;
  delete s.grant;
  const row = kept.row;
  return row && (row.expiresAt === null || row.expiresAt > now) ? { payload: row.payload } : null;
}
