import type { Config } from '../config/config.js';
import type { Services } from '../services.js';
import { AppError, notFound } from '../lib/errors.js';
import { updateTenantSettings } from '../tenants/update-settings.js';
import { createTenant, listTenants, setTenantStatus } from '../tenants/manage-tenants.js';
import { findTenantBySlug } from '../tenants/find-tenant.js';
import { createScimToken, listScimTokens, revokeScimToken } from '../scim/scim-tokens.js';
import { servedUrl } from '../http/served-url.js';
import type { TenantCtx } from '../tenants/tenant-context.js';

export type OptionValue = string | boolean | string[] | undefined;
export type Options = Record<string, OptionValue>;

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  required?: boolean;
  /** Also accepted as `--<name>-file PATH` (`-` = standard input), so it need not sit in shell history. */
  secret?: boolean;
  /** May also be given as the (single) bare word after the command: `sso-trace show trc_123`. */
  positional?: boolean;
  description: string;
}

export interface Command {
  /** Words, e.g. 'tenant create'. */
  name: string;
  summary: string;
  options: Record<string, OptionSpec>;
  /** False for commands that must run in this process (serve). */
  forwardable: boolean;
  run(s: Services, opts: Options): Promise<unknown>;
  /** Set for commands that need no database (`manifests build|check`): run instead of `run`, without Services. */
  local?: (config: Config, opts: Options) => Promise<unknown>;
}

/** The `--tenant SLUG` option every tenant command takes. */
export const tenantOption: OptionSpec = { type: 'string', required: true, description: 'tenant slug' };
const tenantOpt = tenantOption;

export async function tenantArg(s: Services, opts: Options): Promise<TenantCtx> {
  const slug = String(opts.tenant ?? '');
  const t = await findTenantBySlug(s.db, slug);
  if (!t) throw notFound(`No tenant with slug "${slug}"`);
  return t;
}

const str = (v: OptionValue) => (typeof v === 'string' ? v : undefined);

/** A repeatable option's values (one given value, several, or none). */
export const optionList = (v: OptionValue): string[] => (Array.isArray(v) ? v : typeof v === 'string' ? [v] : []);

/**
 * A tenant command whose successful result (which carries the target's `id`) is recorded in the tenant's audit log as
 * `action` by the admin CLI: every state-changing admin command is audited the same way.
 */
export function audited(
  action: string,
  targetKind: string,
  run: (s: Services, t: TenantCtx, o: Options) => Promise<{ id: string } & object>,
): Command['run'] {
  return async (s, o) => {
    const t = await tenantArg(s, o);
    const result = await run(s, t, o);
    await s.audit.record(t, { actor: { kind: 'admin-cli' }, action, target: { kind: targetKind, id: result.id }, outcome: 'success' });
    return result;
  };
}

function onOff(v: OptionValue, name: string): boolean {
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false') return false;
  throw new AppError(400, 'bad_request', `--${name} takes on or off`);
}

/** Every CLI command. Capabilities add theirs to this table (see commands registered in cli/commands.ts). */
export const foundationCommands: Command[] = [
  {
    name: 'migrate',
    summary: 'apply pending database migrations',
    options: {},
    forwardable: true,
    run: async (s) => ({ applied: await s.database.migrate() }),
  },
  {
    name: 'tenant create',
    summary: 'create a tenant',
    options: {
      slug: { type: 'string', required: true, description: 'lowercase letters, digits, dashes; 3–40 chars' },
      name: { type: 'string', required: true, description: 'display name' },
    },
    forwardable: true,
    run: async (s, o) => {
      const t = await createTenant(s.db, { slug: str(o.slug) ?? '', name: str(o.name) ?? '' });
      await s.bus.publish({ type: 'tenant.changed', tenantId: t.id });
      await s.audit.record(null, { actor: { kind: 'admin-cli' }, action: 'tenant.create', target: { kind: 'tenant', id: t.id }, outcome: 'success', detail: { slug: t.slug } });
      return t;
    },
  },
  {
    name: 'tenant list',
    summary: 'list tenants',
    options: {},
    forwardable: true,
    run: async (s) => ({ tenants: await listTenants(s.db) }),
  },
  ...(['disable', 'enable'] as const).map(
    (verb): Command => ({
      name: `tenant ${verb}`,
      summary: verb === 'disable' ? "disable a tenant (its URLs answer 404 at once; its data is kept)" : 'enable a disabled tenant again',
      options: { tenant: tenantOpt },
      forwardable: true,
      run: async (s, o) => {
        const t = await setTenantStatus(s.db, str(o.tenant) ?? '', verb === 'disable' ? 'disabled' : 'active');
        await s.bus.publish({ type: 'tenant.changed', tenantId: t.id });
        await s.audit.record(null, { actor: { kind: 'admin-cli' }, action: `tenant.${verb}`, target: { kind: 'tenant', id: t.id }, outcome: 'success' });
        return t;
      },
    }),
  ),
  {
    name: 'tenant settings',
    summary: "show or change a tenant's settings (dynamic client registration, re-consent policy, admin group)",
    options: {
      tenant: tenantOpt,
      'dynamic-client-registration': { type: 'string', description: 'on|off — RFC 7591 registration for MCP clients' },
      'reconsent-on-new-tools': { type: 'string', description: 'on|off — ask users again when admins approve new tools' },
      'admin-group': { type: 'string', description: 'id (or unambiguous display name) of the IdP/SCIM group whose members administer the tenant ("" clears)' },
      'cross-app-access': { type: 'string', description: 'on|off — ID-JAG (jwt-bearer) and token-exchange grants (docs/cross-app-access.md)' },
      'idp-logout-revokes-grants': { type: 'string', description: "on|off — a logout at the IdP also revokes the user's MCP grants (default off: session only)" },
      provisioning: { type: 'string', description: 'scim|directory-sync — source of users and groups (SCIM push, or `connector sync-directory`)' },
    },
    forwardable: true,
    run: async (s, o) => {
      const patch: Record<string, unknown> = {};
      if (o['dynamic-client-registration'] !== undefined) patch.dynamicClientRegistration = onOff(o['dynamic-client-registration'], 'dynamic-client-registration');
      if (o['reconsent-on-new-tools'] !== undefined) patch.reconsentOnNewTools = onOff(o['reconsent-on-new-tools'], 'reconsent-on-new-tools');
      if (o['admin-group'] !== undefined) patch.adminGroup = str(o['admin-group']) || undefined;
      if (o['cross-app-access'] !== undefined) patch.crossAppAccess = onOff(o['cross-app-access'], 'cross-app-access');
      if (o['idp-logout-revokes-grants'] !== undefined) patch.idpLogoutRevokesGrants = onOff(o['idp-logout-revokes-grants'], 'idp-logout-revokes-grants');
      if (o.provisioning !== undefined) {
        if (o.provisioning !== 'scim' && o.provisioning !== 'directory-sync') throw new AppError(400, 'bad_request', '--provisioning takes scim or directory-sync');
        patch.provisioning = o.provisioning;
      }
      const result = await updateTenantSettings(s.db, str(o.tenant) ?? '', patch);
      if (Object.keys(patch).length) {
        await s.bus.publish({ type: 'tenant.changed', tenantId: result.id });
        await s.audit.record(null, { actor: { kind: 'admin-cli' }, action: 'tenant.settings', target: { kind: 'tenant', id: result.id }, outcome: 'success', detail: { changed: Object.keys(patch) } });
      }
      return { slug: result.slug, settings: result.settings };
    },
  },
  {
    name: 'scim-token create',
    summary: 'create a SCIM bearer token (shown once)',
    options: {
      tenant: tenantOpt,
      label: { type: 'string', description: 'a note, e.g. "Okta provisioning"' },
      connection: { type: 'string', description: 'IdP connection (idp_…) of the same app: users this token creates sign in only through it' },
    },
    forwardable: true,
    // The base URL is the one the server recorded (src/http/served-url.ts), not this process's PUBLIC_URL.
    run: audited('scim-token.create', 'scim-token', async (s, t, o) => createScimToken(t, await servedUrl(s.db, s.config.publicUrl), str(o.label), str(o.connection))),
  },
  {
    name: 'scim-token list',
    summary: "list a tenant's SCIM tokens (never the tokens themselves)",
    options: { tenant: tenantOpt },
    forwardable: true,
    run: async (s, o) => ({ tokens: await listScimTokens(await tenantArg(s, o)) }),
  },
  {
    name: 'scim-token revoke',
    summary: 'revoke a SCIM token',
    options: { tenant: tenantOpt, id: { type: 'string', required: true, description: 'token id (stk_…)' } },
    forwardable: true,
    run: audited('scim-token.revoke', 'scim-token', async (s, t, o) => {
      const result = await revokeScimToken(t, str(o.id) ?? '', s.clock);
      await s.bus.publish({ type: 'scim-token.revoked', tenantId: t.id, tokenId: result.id });
      return result;
    }),
  },
  {
    name: 'vault rotate',
    summary: 'new data keys for every tenant; re-wrap under the newest master key and re-encrypt, without downtime',
    options: {},
    forwardable: true,
    run: async (s) => {
      const report = await s.vault.rotate(s.db);
      await s.audit.record(null, { actor: { kind: 'admin-cli' }, action: 'vault.rotate', outcome: 'success', detail: { ...report } });
      return { masterKeyId: s.masterKeys.activeKeyId, ...report };
    },
  },
];
