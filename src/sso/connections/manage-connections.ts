import { notFound } from '../../lib/errors.js';
import { deleteIdpUserTokens } from '../idp-tokens/idp-user-tokens.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { parseConnectionConfig, type ConnectionConfig } from './connection-config.js';
import { describeConnection } from './shared-options.js';

export interface Connection {
  id: string;
  name: string;
  kind: 'saml' | 'oidc';
  issuer: string;
  secretId: string | null;
  updatedAt: Date;
  config: ConnectionConfig;
}

export async function listConnections(t: TenantCtx) {
  const rows = await t.db.idpConnection.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  return rows.map(describeConnection);
}

/** Enabled connections of the tenant, parsed, for login routing. */
export async function enabledConnections(t: TenantCtx): Promise<Connection[]> {
  const rows = await t.db.idpConnection.findMany({ where: { enabled: true }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  return rows.map(toConnection);
}

export async function findConnection(t: TenantCtx, id: string): Promise<Connection | null> {
  const row = await t.db.idpConnection.findFirst({ where: { id, enabled: true } });
  return row ? toConnection(row) : null;
}

/** Any connection of the tenant, enabled or not: only for an admin's "Test sign-in" of a connection not yet on. */
export async function findConnectionEvenDisabled(t: TenantCtx, id: string): Promise<Connection | null> {
  const row = await t.db.idpConnection.findFirst({ where: { id } });
  return row ? toConnection(row) : null;
}

export async function findConnectionByIssuer(t: TenantCtx, kind: 'saml' | 'oidc', issuer: string): Promise<Connection | null> {
  const row = await t.db.idpConnection.findFirst({ where: { kind, issuer, enabled: true } });
  return row ? toConnection(row) : null;
}

/** `idp remove`: deletes the connection, its identities (cascade) and its vault secret. */
export async function removeConnection(s: Services, t: TenantCtx, id: string) {
  const row = await t.db.idpConnection.findFirst({ where: { id } });
  if (!row) throw notFound(`No IdP connection ${id}`);
  await t.db.idpConnection.deleteMany({ where: { id } });
  // Bindings to a connection that no longer exists would lock its users out of every other connection for good.
  await t.db.user.updateMany({ where: { ssoConnectionId: id }, data: { ssoConnectionId: null } });
  await t.db.scimToken.updateMany({ where: { connectionId: id }, data: { connectionId: null } });
  if (row.secretId) await s.vault.remove(t, row.secretId);
  // Sign-in tokens captured through this connection (Microsoft tools, ID-JAG upstreams) go with it.
  await deleteIdpUserTokens(t, { connectionId: id });
  return { id, removed: true };
}

function toConnection(row: { id: string; name: string; kind: 'saml' | 'oidc'; issuer: string; secretId: string | null; updatedAt: Date; config: unknown }): Connection {
  return { id: row.id, name: row.name, kind: row.kind, issuer: row.issuer, secretId: row.secretId, updatedAt: row.updatedAt, config: parseConnectionConfig(row.config) };
}
