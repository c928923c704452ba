import { z } from 'zod';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { GtrError } from './gtr-error.js';

/** The two RFC 9493 subject identifier formats Okta sends (draft-parecki-oauth-global-token-revocation §2.1). */
const SubId = z.discriminatedUnion('format', [
  z.object({ format: z.literal('iss_sub'), iss: z.string().min(1).max(2048), sub: z.string().min(1).max(1024) }),
  z.object({ format: z.literal('email'), email: z.string().min(3).max(320).includes('@') }),
]);
const Body = z.object({ sub_id: SubId });

export type SubjectId = z.infer<typeof SubId>;

/** The body's `sub_id`, or 400 (§2.3: malformed request or an unsupported format). */
export function parseSubId(body: string): SubjectId {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new GtrError(400, 'body is not JSON');
  }
  const parsed = Body.safeParse(json);
  if (!parsed.success) throw new GtrError(400, `malformed sub_id (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  return parsed.data.sub_id;
}

/**
 * The connections a verified request speaks for: the OIDC connection whose keys signed it and, when its issuer is an
 * org URL (an origin without a path, as Okta's org authorization server's is), the tenant's SAML connections of the
 * same org — their single sign-on URL on that origin (Okta: `https://acme.okta.com/app/…/sso/saml`). A tenant that
 * signs in with SAML adds the org's OIDC connection only so that requests can be verified (docs/connectors/okta.md).
 */
async function speaksFor(t: TenantCtx, conn: { id: string; issuer: string }): Promise<{ ids: string[]; issuers: Set<string> }> {
  const org = URL.parse(conn.issuer);
  const ids = [conn.id];
  const issuers = new Set([conn.issuer]);
  if (!org || (org.pathname !== '/' && org.pathname !== '') || org.search) return { ids, issuers };
  for (const saml of await t.db.idpConnection.findMany({ where: { kind: 'saml', enabled: true }, select: { id: true, issuer: true, config: true } })) {
    const sso = URL.parse(String((saml.config as { saml?: { ssoUrl?: unknown } }).saml?.ssoUrl ?? ''));
    if (sso?.origin === org.origin) {
      ids.push(saml.id);
      issuers.add(saml.issuer);
    }
  }
  return { ids, issuers };
}

/**
 * The local users `sub_id` names in this tenant — among the users of the connections the verified request speaks for
 * ({@link speaksFor}), and no others: an IdP signs out its own sign-ins only, so one IdP of a tenant cannot sign out
 * the users of another (a contractor's Okta next to the corporate Entra). `iss_sub`: the identity linked at such a
 * connection with that issuer (SAML NameID or OIDC `sub`, as SSO stored it); another issuer is refused with 403, a
 * subject nobody holds there with 404. `email`: the users with that primary e-mail (stored lower-cased) who signed in
 * through such a connection or may only sign in through one (provisioned with its SCIM token, `ssoConnectionId`); 404
 * when none.
 */
export async function findSubIdUsers(t: TenantCtx, subId: SubjectId, conn: { id: string; issuer: string }): Promise<string[]> {
  const own = await speaksFor(t, conn);
  if (subId.format === 'email') {
    const users = await t.db.user.findMany({
      where: { email: subId.email.toLowerCase(), OR: [{ identities: { some: { connectionId: { in: own.ids } } } }, { ssoConnectionId: { in: own.ids } }] },
      select: { id: true },
    });
    if (!users.length) throw new GtrError(404, 'no user with this email at this IdP');
    return users.map((u) => u.id);
  }
  if (!own.issuers.has(subId.iss)) throw new GtrError(403, 'sub_id.iss is not an IdP the signer speaks for');
  const conns = await t.db.idpConnection.findMany({ where: { id: { in: own.ids }, issuer: subId.iss }, select: { id: true } });
  const ids = await t.db.userIdentity.findMany({ where: { connectionId: { in: conns.map((c) => c.id) }, subject: subId.sub }, select: { userId: true } });
  if (!ids.length) throw new GtrError(404, 'no user with this subject');
  return [...new Set(ids.map((i) => i.userId))];
}
