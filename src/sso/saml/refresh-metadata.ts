import type { Services } from '../../services.js';
import { tenantContext } from '../../tenants/tenant-context.js';
import { parseConnectionConfig } from '../connections/connection-config.js';
import { fetchMetadata } from '../connections/fetch-metadata.js';
import { parseIdpMetadata } from './parse-idp-metadata.js';

/**
 * Periodic job: re-fetches the metadata URL of every SAML connection that has one and stores the current signing
 * certificates, so an IdP certificate rollover (new certificate published next to the old one) needs no admin.
 * A failed fetch or a metadata document for another entity keeps the previous certificates and is logged.
 */
export async function refreshSamlMetadata(s: Services): Promise<{ refreshed: number; failed: number }> {
  const rows = await s.db.idpConnection.findMany({ where: { kind: 'saml', enabled: true }, include: { tenant: true } });
  let refreshed = 0;
  let failed = 0;
  for (const row of rows) {
    const config = parseConnectionConfig(row.config);
    const url = config.saml?.metadataUrl;
    if (!url) continue;
    try {
      const md = await parseIdpMetadata(await fetchMetadata(url));
      if (md.entityId !== row.issuer) throw new Error(`metadata now describes ${md.entityId}, not ${row.issuer}`);
      const t = tenantContext(s.db, row.tenant);
      await t.db.idpConnection.updateMany({
        where: { id: row.id },
        data: { metadataRefreshedAt: s.clock.now(), config: { ...(row.config as object), saml: { ...config.saml, ssoUrl: md.ssoUrl, signingCerts: md.signingCerts, nameIdFormats: md.nameIdFormats } } },
      });
      refreshed++;
    } catch (err) {
      failed++;
      s.logger.warn({ connectionId: row.id, err: (err as Error).message }, 'SAML metadata refresh failed; keeping the previous certificates');
    }
  }
  return { refreshed, failed };
}
