import type { Vault } from '../../vault/vault.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { ConnectorRow } from '../connector-store.js';
import { parseServiceAccountKey, type ServiceAccountKey } from './service-account-key.js';

/** Deployment-level vault name of the Marketplace publisher's service-account key (`GOOGLE_SERVICE_ACCOUNT`). */
export const PUBLISHER_KEY = 'GOOGLE_SERVICE_ACCOUNT';

/** The publisher's key, or null when the operator has not stored one (`marketplace set-service-account`). */
export async function publisherKey(vault: Vault, db: TenantCtx['db'] | Parameters<Vault['getDeployment']>[0]): Promise<ServiceAccountKey | null> {
  const raw = await vault.getDeployment(db as Parameters<Vault['getDeployment']>[0], PUBLISHER_KEY);
  return raw ? parseServiceAccountKey(raw.toString('utf8')) : null;
}

/**
 * The key a Google connector signs with: its own (in the tenant's vault; `connector add-google`), or, for a
 * Marketplace install (no stored key, `keySource: publisher`), the publisher's deployment-level key, whose
 * domain-wide delegation the customer granted by installing the app.
 */
export async function connectorKey(vault: Vault, t: TenantCtx, connector: ConnectorRow): Promise<ServiceAccountKey> {
  if (connector.secretId) return parseServiceAccountKey(await vault.getString(t, connector.secretId));
  if ((connector.config as { keySource?: string } | null)?.keySource === 'publisher') {
    const key = await publisherKey(vault, t.db);
    if (key) return key;
  }
  throw new Error('Google connector without a stored key');
}
