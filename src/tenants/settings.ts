import { z } from 'zod';

/** Per-tenant settings stored in Tenant.settings. Unknown keys are kept (newer nodes may have written them). */
export const TenantSettingsSchema = z.looseObject({
  /** RFC 7591 dynamic client registration for MCP clients (many clients still need it). */
  dynamicClientRegistration: z.boolean().default(true),
  /** Ask users again when admins approve new tools (default: new tools join the consented profile). */
  reconsentOnNewTools: z.boolean().default(false),
  /** Id (or unambiguous display name) of the IdP/SCIM group whose members administer the tenant. */
  adminGroup: z.string().optional(),
  /** Cross-app access (docs/cross-app-access.md): the ID-JAG and token-exchange grants of the tenant's AS. */
  crossAppAccess: z.boolean().default(true),
  /** A logout at the IdP (SAML SLO, OIDC back-channel) also revokes the user's MCP grants, not only the session (absent = off). */
  idpLogoutRevokesGrants: z.boolean().optional(),
  /**
   * Where users and groups come from: pushed by the IdP over SCIM, or read by directory sync from a connector
   * (Google-only companies). Never both: the other path refuses to write (docs/connectors/google.md).
   */
  provisioning: z.enum(['scim', 'directory-sync']).default('scim'),
  /** Minutes between scheduled directory syncs when `provisioning` is directory sync (docs/connectors/google.md). */
  directorySyncIntervalMinutes: z.number().int().min(5).max(1440).default(15),
  /** Reconciliation with the IdP's directory (docs/reconciliation.md). */
  reconcile: z
    .object({
      /** Run it on a schedule (the tenant needs a directory connector); `reconcile` by hand works either way. */
      scheduled: z.boolean().default(true),
      intervalMinutes: z.number().int().min(5).max(7 * 24 * 60).default(60),
      /** Users (and memberships) the IdP has but this tenant lacks are created; by default they are only reported. */
      createMissing: z.boolean().default(false),
      /** Mass-deactivation guard: a run deactivating more than min(count, percent of active users) waits for --confirm. */
      maxDeactivatePercent: z.number().min(0).max(100).default(10),
      maxDeactivateCount: z.number().int().min(0).default(50),
      /** Which directory connector to read when the tenant has several (default: okta, then microsoft, then google). */
      source: z.enum(['google', 'microsoft', 'okta']).optional(),
    })
    .prefault({}),
});

export type TenantSettings = z.output<typeof TenantSettingsSchema>;

export function parseTenantSettings(raw: unknown): TenantSettings {
  const parsed = TenantSettingsSchema.safeParse(raw ?? {});
  return parsed.success ? parsed.data : TenantSettingsSchema.parse({});
}
