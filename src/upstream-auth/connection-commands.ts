import type { Command, OptionSpec, Options } from '../cli/command-table.js';
import { audited, tenantArg, tenantOption } from '../cli/command-table.js';
import { notFound } from '../lib/errors.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { parseAuthMode, type AuthMode, type PerUserAuthOptions } from './add-per-user-upstream.js';
import { listConnections } from './connection-store.js';
import { disconnectUpstream } from './disconnect-upstream.js';
import { useOwnRedirectUri } from './upstream-oauth-client.js';

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** The `upstream add` options of issue 14 §1 (contract: `[--auth …] [--client-id ID --client-secret-file F] [--scope S]`). */
export const upstreamAuthOptions: Record<string, OptionSpec> = {
  auth: {
    type: 'string',
    description:
      "static (default: the --header values, one identity shared by every user), oauth-per-user (each user connects their own account) or id-jag (each user's token obtained with an ID-JAG from the tenant's IdP, no connecting)",
  },
  'client-id': { type: 'string', description: "oauth-per-user, id-jag: a client registered at the upstream's authorization server (default: our client metadata document, else (oauth-per-user) dynamic registration)" },
  'client-secret': { type: 'string', secret: true, description: 'oauth-per-user, id-jag: that client\'s secret (use --client-secret-file)' },
  scope: { type: 'string', description: "oauth-per-user, id-jag: scopes to request (default: the upstream's scopes_supported)" },
  'connect-at-consent': { type: 'boolean', description: 'oauth-per-user: offer connecting this upstream on the consent page' },
  idp: { type: 'string', description: "id-jag: the OIDC IdP connection (idp_…) that mints the ID-JAGs (default: the tenant's only OIDC connection)" },
};

export function upstreamAuthInput(o: Options): { auth: AuthMode; authOptions: PerUserAuthOptions } {
  return {
    auth: parseAuthMode(str(o.auth)),
    authOptions: { clientId: str(o['client-id']), clientSecret: str(o['client-secret']), scope: str(o.scope), connectAtConsent: o['connect-at-consent'] === true, idp: str(o.idp) },
  };
}

/** A user by e-mail or userName (case-insensitive), as admins name them. */
export async function findUserByLogin(t: TenantCtx, login: string) {
  const key = login.trim().toLowerCase();
  const user = await t.db.user.findFirst({ where: { OR: [{ email: key }, { userNameKey: key }] }, select: { id: true, email: true, userName: true } });
  if (!user) throw notFound(`No user "${login}"`);
  return user;
}

/**
 * Who is connected to which per-user upstream (the admin's view; the console calls the same function): status,
 * scope, when connected and refreshed. Never any token.
 */
export async function adminListConnections(t: TenantCtx, login?: string) {
  const user = login ? await findUserByLogin(t, login) : undefined;
  const rows = await listConnections(t, { userId: user?.id });
  const users = await t.db.user.findMany({ where: { id: { in: [...new Set(rows.map((r) => r.userId))] } }, select: { id: true, email: true, userName: true } });
  const label = new Map(users.map((u) => [u.id, u.email ?? u.userName]));
  return rows.map((r) => ({ ...r, user: label.get(r.userId) ?? r.userId }));
}

const user: OptionSpec = { type: 'string', description: 'the user, by e-mail or userName' };

export const upstreamConnectionCommands: Command[] = [
  {
    name: 'upstream own-redirect-uri',
    summary: "move a per-user upstream registered with the tenant's shared callback to its own redirect URI (register the printed URI at its server first when you registered the client there)",
    options: { tenant: tenantOption, name: { type: 'string', required: true, description: 'upstream name' } },
    forwardable: true,
    run: audited('upstream.redirect_uri.own', 'upstream', (s, t, o) => useOwnRedirectUri(s, t, str(o.name) ?? '')),
  },
  {
    name: 'upstream connections',
    summary: "list users' connections to per-user (oauth-per-user) upstreams, for one user with --user",
    options: { tenant: tenantOption, user },
    forwardable: true,
    run: async (s, o) => ({ connections: await adminListConnections(await tenantArg(s, o), str(o.user)) }),
  },
  {
    name: 'upstream disconnect',
    summary: "end a user's connection to a per-user upstream (deleted here, revoked at the upstream when it offers RFC 7009)",
    options: { tenant: tenantOption, name: { type: 'string', required: true, description: 'upstream name' }, user: { ...user, required: true } },
    forwardable: true,
    run: audited('upstream.connection.disconnect', 'upstream', async (s, t, o) => {
      const u = await findUserByLogin(t, str(o.user) ?? '');
      const up = await t.db.upstream.findFirst({ where: { name: str(o.name) ?? '' }, select: { id: true } });
      if (!up) throw notFound(`No upstream named "${str(o.name)}"`);
      const result = await disconnectUpstream(s, t, u.id, up.id);
      if (!result.removed) throw notFound('That user has no connection to this upstream');
      return { id: up.id, userId: u.id, ...result };
    }),
  },
];
