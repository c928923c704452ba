import { z } from 'zod';
import { TenantSettingsSchema, type TenantSettings } from '../../tenants/settings.js';
import { updateTenantSettings } from '../../tenants/update-settings.js';
import { defineAction } from './admin-action.js';

/** on/off as the CLI spells it, true/false as JSON does, and a checkbox's "on". */
const onOff = z.union([z.boolean(), z.enum(['on', 'off', 'true', 'false'])], { error: 'takes on or off' }).transform((v) => v === true || v === 'on' || v === 'true');

/** The settings an admin may change, each optional (absent = unchanged); `adminGroup: ""` clears the admin group. */
export const SettingsPatchInput = z
  .object({
    dynamicClientRegistration: onOff,
    reconsentOnNewTools: onOff,
    adminGroup: z.string().trim().max(300),
    crossAppAccess: onOff,
    idpLogoutRevokesGrants: onOff,
    provisioning: z.enum(['scim', 'directory-sync'], 'provisioning: scim or directory-sync'),
    directorySyncIntervalMinutes: z
      .union([z.number(), z.string().trim().regex(/^\d{1,4}$/).transform(Number)], { error: 'directory sync interval: minutes from 5 to 1440' })
      .pipe(z.number({ error: 'directory sync interval: minutes from 5 to 1440' }).int().min(5, 'directory sync interval: at least 5 minutes').max(1440, 'directory sync interval: at most 1440 minutes (a day)')),
    /** The whole reconciliation block (docs/reconciliation.md), as `reconcileSettingsPatch` builds it; absent = unchanged (no prefault). */
    reconcile: TenantSettingsSchema.shape.reconcile.unwrap(),
  })
  .partial()
  .strict();

const SENSITIVE_SETTINGS = ['adminGroup', 'dynamicClientRegistration', 'crossAppAccess', 'provisioning'] as const;

/** `tenant settings` / console Settings: merged and validated as a whole, every node told, audited on the tenant. */
export const updateSettingsAction = defineAction({
  name: 'tenant.settings',
  targetKind: 'tenant',
  // Changing who administers (adminGroup), who may register clients or redeem cross-app assertions, or which source
  // provisions users changes who can reach what: a fresh sign-in, as for adding an IdP. The form sends every field;
  // only a changed value counts.
  sensitive: (patch, t) => SENSITIVE_SETTINGS.some((k) => patch[k] !== undefined && (k === 'adminGroup' ? patch[k] || undefined : patch[k]) !== t.settings[k]),
  input: SettingsPatchInput,
  run: async (s, t, patch) => {
    const changes: Partial<TenantSettings> = { ...patch, ...(patch.adminGroup !== undefined && { adminGroup: patch.adminGroup || undefined }) };
    const result = await updateTenantSettings(s.db, t.slug, changes);
    if (Object.keys(patch).length) await s.bus.publish({ type: 'tenant.changed', tenantId: result.id });
    return { id: result.id, slug: result.slug, settings: result.settings };
  },
  detail: (patch) => ({ changed: Object.keys(patch) }),
});
