import type { TenantCtx } from '../tenants/tenant-context.js';

export interface ConsentAccount {
  name: string;
  host: string;
  connected: boolean;
  /** Our connect page, returning to this consent page afterwards. */
  connectUrl: string;
}

/**
 * "Connect at consent" (issue 14 §2): the per-user upstreams the admin marked so, with this user's status, for the
 * consent page. Connecting goes through /t/{slug}/connect/{upstream} and comes back to the same interaction, so the
 * common case stays one sign-in and one consent screen listing the connected apps.
 */
export async function consentAccounts(t: TenantCtx, userId: string, returnTo: string): Promise<ConsentAccount[]> {
  const rows = await t.db.upstream.findMany({
    where: { authMode: 'oauth-per-user', oauthClient: { is: { connectAtConsent: true } } },
    orderBy: { name: 'asc' },
    select: { id: true, name: true, url: true },
  });
  if (rows.length === 0) return [];
  const connected = new Set(
    (await t.db.upstreamConnection.findMany({ where: { userId, status: 'connected', upstreamId: { in: rows.map((r) => r.id) } }, select: { upstreamId: true } })).map((c) => c.upstreamId),
  );
  return rows.map((r) => ({
    name: r.name,
    host: URL.parse(r.url)?.host ?? r.url,
    connected: connected.has(r.id),
    connectUrl: `/t/${encodeURIComponent(t.slug)}/connect/${encodeURIComponent(r.name)}?return_to=${encodeURIComponent(returnTo)}`,
  }));
}
