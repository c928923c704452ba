import type { Config } from '../config/config.js';
import type { Services } from '../services.js';
import { notFound } from '../lib/errors.js';
import { createTenant, listTenants } from '../tenants/manage-tenants.js';
import { changeTenantStatus } from '../tenants/change-tenant-status.js';
import { findTenantBySlug } from '../tenants/find-tenant.js';
import { listScimTokens } from '../scim/scim-tokens.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { reconcileSettingOptions, reconcileSettingsPatch } from '../connectors/reconcile/reconcile-settings.js';
import { cliActor, runAdminAction, type AdminAction } from '../admin/actions/admin-action.js';
import { createScimTokenAction, revokeScimTokenAction } from '../admin/actions/scim-token-actions.js';
import { updateSettingsAction } from '../admin/actions/settings-actions.js';

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
  /** The values a string option accepts, shown in help instead of its upper-cased name (`--jit on|off`). */
  values?: readonly string[];
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

/**
 * A tenant command that runs one of the admin actions (src/admin/actions) as the CLI: the same validation, side
 * effects and audit row as the console and its JSON API; `toInput` maps the command's options to the action's input.
 */
export function viaAction<I, R extends { id: string }>(action: AdminAction<I, R>, toInput: (o: Options) => unknown): Command['run'] {
  return async (s, o) => runAdminAction(s, await tenantArg(s, o), cliActor, action, toInput(o));
}

const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

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
      run: async (s, o) => changeTenantStatus(s, str(o.tenant) ?? '', verb, { kind: 'admin-cli' }),
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
      'directory-sync-interval': { type: 'string', description: 'minutes between scheduled directory syncs (5–1440, default 15)' },
      ...reconcileSettingOptions,
    },
    forwardable: true,
    // Recorded in the tenant's own audit log (it was the global one before the console: its admins see their changes).
    run: async (s, o) => {
      const t = await tenantArg(s, o);
      const reconcile = reconcileSettingsPatch(t.settings.reconcile, o);
      const result = await runAdminAction(s, t, cliActor, updateSettingsAction, defined({
        dynamicClientRegistration: o['dynamic-client-registration'],
        reconsentOnNewTools: o['reconsent-on-new-tools'],
        adminGroup: o['admin-group'],
        crossAppAccess: o['cross-app-access'],
        idpLogoutRevokesGrants: o['idp-logout-revokes-grants'],
        provisioning: o.provisioning,
        directorySyncIntervalMinutes: o['directory-sync-interval'],
        ...(reconcile && { reconcile }),
      }));
      return { slug: result.slug, settings: result.settings };
    },
  },
  {
    name: 'tenant refresh-caches',
    summary: "drop every node's cached state of a tenant (after editing its rows in the database by hand; decision 0040)",
    options: { tenant: tenantOpt },
    forwardable: true,
    // tenant.changed drops the tenant's cached tokens, callable tools, signing keys and directory entry on every node.
    run: async (s, o) => {
      const t = await tenantArg(s, o);
      await s.bus.publish({ type: 'tenant.changed', tenantId: t.id });
      await s.audit.record(t, { actor: { kind: 'admin-cli' }, action: 'tenant.caches.refresh', target: { kind: 'tenant', id: t.id }, outcome: 'success' });
      return { slug: t.slug, refreshed: true };
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
    run: viaAction(createScimTokenAction, (o) => ({ label: str(o.label), connectionId: str(o.connection) })),
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
    run: viaAction(revokeScimTokenAction, (o) => ({ id: str(o.id) ?? '' })),
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
