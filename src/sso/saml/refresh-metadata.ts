import { readFile } from 'node:fs/promises';
import { badRequest, notFound } from '../../lib/errors.js';
import type { Services } from '../../services.js';
import { tenantContext, type TenantCtx } from '../../tenants/tenant-context.js';
import { parseConnectionConfig } from '../connections/connection-config.js';
import { fetchMetadata } from '../connections/fetch-metadata.js';
import { parseIdpMetadata } from './parse-idp-metadata.js';
import { trustedMetadataXml } from './verify-metadata.js';

/**
 * Stores a connection's current IdP metadata (SSO URL, signing certificates, NameID formats). The entity ID may not
 * change: new metadata for another entity is refused, so a compromised metadata URL cannot swap the IdP; signed
 * metadata must be signed by a pinned or already trusted certificate, and once a connection's metadata was signed every
 * later copy must be (verify-metadata.ts).
 */
export async function updateSamlMetadata(s: Services, t: TenantCtx, id: string, xml?: string) {
  const row = await t.db.idpConnection.findFirst({ where: { id, kind: 'saml' } });
  if (!row) throw notFound(`No SAML connection ${id}`);
  const config = parseConnectionConfig(row.config);
  const url = config.saml?.metadataUrl;
  if (!xml && !url) throw badRequest('this connection has no metadata URL: give --metadata-file');
  const raw = xml ?? (await s.idpFetches.run(`saml:${url}`, () => fetchMetadata(url!, { allowHttp: s.config.nodeEnv !== 'production', fetch: s.egress.fetch })));
  const trusted = await trustedMetadataXml(raw, { pinned: config.saml?.metadataCerts ?? [], known: config.saml?.signingCerts ?? [], signedBefore: config.saml?.metadataSigned === true });
  const md = await parseIdpMetadata(trusted.xml);
  if (md.entityId !== row.issuer) throw badRequest(`metadata describes ${md.entityId}, not ${row.issuer}`);
  await t.db.idpConnection.updateMany({
    where: { id: row.id },
    data: {
      metadataRefreshedAt: s.clock.now(),
      config: { ...(row.config as object), saml: { ...config.saml, ssoUrl: md.ssoUrl, sloUrl: md.sloUrl, signingCerts: md.signingCerts, nameIdFormats: md.nameIdFormats, ...(trusted.signed && { metadataSigned: true }) } },
    },
  });
  return { id: row.id, issuer: row.issuer, signingCertificates: md.signingCerts.length, metadataRefreshedAt: s.clock.now() };
}

/** `idp refresh`: from the metadata URL, or from a file for connections added with one. */
export async function refreshFromCli(s: Services, t: TenantCtx, id: string, file?: string) {
  return updateSamlMetadata(s, t, id, file ? await readFile(file, 'utf8') : undefined);
}

/**
 * Periodic job: re-fetches the metadata URL of every SAML connection that has one, so an IdP certificate rollover
 * (the next certificate published beside the current one) needs no admin. A failure keeps the previous certificates.
 */
export async function refreshSamlMetadata(s: Services): Promise<{ refreshed: number; failed: number }> {
  const rows = await s.db.idpConnection.findMany({ where: { kind: 'saml', enabled: true }, include: { tenant: true } });
  let refreshed = 0;
  let failed = 0;
  for (const row of rows) {
    if (!parseConnectionConfig(row.config).saml?.metadataUrl) continue;
    try {
      await updateSamlMetadata(s, tenantContext(s.db, row.tenant), row.id);
      refreshed++;
    } catch (err) {
      failed++;
      s.logger.warn({ connectionId: row.id, err: (err as Error).message }, 'SAML metadata refresh failed; keeping the previous certificates');
    }
  }
  return { refreshed, failed };
}
