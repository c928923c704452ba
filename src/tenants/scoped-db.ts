import type { Db } from '../db/open-database.js';

/** Models whose rows belong to a tenant (they carry `tenantId`). Kept in step with prisma/schema.prisma by a test. */
export const tenantOwnedModels = new Set([
  'User',
  'Group',
  'GroupMembership',
  'ScimToken',
  'IdpConnection',
  'UserIdentity',
  'Session',
  'LoginState',
  'SsoTrace',
  'AuditEvent',
  'VaultKey',
  'VaultSecret',
  'OidcPayload',
  'Upstream',
  'Tool',
  'ToolGrant',
  'UpstreamContentGrant',
  'Consent',
  'AuditSink',
  'Connector',
  'ReconcileRun',
  'IdpGroupGrant',
  'UpstreamOAuthClient',
  'UpstreamConnection',
  'UpstreamConnectState',
  'TenantBinding',
  'SetupLink',
]);

type Args = Record<string, unknown> & { where?: Record<string, unknown>; data?: unknown; create?: unknown };

function withTenant(data: unknown, tenantId: string): unknown {
  if (Array.isArray(data)) return data.map((d) => withTenant(d, tenantId));
  if (data && typeof data === 'object') {
    const row = data as Record<string, unknown>;
    if (row.tenantId !== undefined && row.tenantId !== tenantId) {
      throw new Error('Refusing to write a row of another tenant');
    }
    return { ...row, tenantId };
  }
  return data;
}

/** An update never moves a row to another tenant (its `where` only says which rows of this tenant it changes). */
function keepTenant(data: unknown, tenantId: string): void {
  const next = (data as { tenantId?: unknown } | undefined)?.tenantId;
  if (next !== undefined && next !== tenantId) throw new Error('Refusing to move a row to another tenant');
}

/**
 * The only way data-access code reaches tenant-owned rows: a Prisma client whose every query on a tenant-owned model
 * is filtered by (and every create stamped with) this tenant's id. A forgotten `where` cannot leak another tenant's
 * rows. Raw SQL bypasses it, so raw queries must bind `tenantId` themselves (and have a cross-tenant test).
 */
export function scopedDb(db: Db, tenantId: string) {
  return db.$extends({
    name: `tenant:${tenantId}`,
    query: {
      $allModels: {
        async $allOperations({ model, operation, args, query }) {
          if (!tenantOwnedModels.has(model)) return query(args);
          const a = { ...(args as Args) };
          switch (operation) {
            case 'create':
              a.data = withTenant(a.data, tenantId);
              break;
            case 'createMany':
            case 'createManyAndReturn':
              a.data = withTenant(a.data, tenantId);
              break;
            case 'upsert':
              a.where = { ...a.where, tenantId };
              a.create = withTenant(a.create, tenantId);
              keepTenant(a.update, tenantId);
              break;
            case 'update':
            case 'updateMany':
            case 'updateManyAndReturn':
              keepTenant(a.data, tenantId);
              a.where = { ...a.where, tenantId };
              break;
            default:
              // find*, count, aggregate, groupBy, update*, delete*: all take a `where`.
              a.where = { ...a.where, tenantId };
          }
          return query(a as typeof args);
        },
      },
    },
  });
}

export type ScopedDb = ReturnType<typeof scopedDb>;
