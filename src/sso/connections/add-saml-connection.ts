import { readFile } from 'node:fs/promises';
import { conflict, badRequest } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { parseIdpMetadata } from '../saml/parse-idp-metadata.js';
import { pemCertificates, trustedMetadataXml } from '../saml/verify-metadata.js';
import { fetchMetadata } from './fetch-metadata.js';
import { CommonConnectionInput, describeConnection } from './shared-options.js';

export interface AddSamlInput extends CommonConnectionInput {
  metadataUrl?: string;
  metadataFile?: string;
  metadataXml?: string;
  /** PEM file: the certificate that must have signed the metadata (`--metadata-cert`). */
  metadataCertFile?: string;
}

/** `idp add-saml`: trusts one more SAML IdP, identified by the entity ID its metadata declares. */
export async function addSamlConnection(s: Services, t: TenantCtx, input: AddSamlInput) {
  const common = CommonConnectionInput.parse(input);
  const sources = [input.metadataUrl, input.metadataFile, input.metadataXml].filter(Boolean).length;
  if (sources !== 1) throw badRequest('give exactly one of --metadata-url or --metadata-file');
  const xml = input.metadataUrl
    ? await fetchMetadata(input.metadataUrl, { allowHttp: s.config.nodeEnv !== 'production', fetch: s.egress.fetch })
    : (input.metadataXml ?? (await readFile(input.metadataFile!, 'utf8')));
  const metadataCerts = input.metadataCertFile ? pemCertificates(await readFile(input.metadataCertFile, 'utf8')) : [];
  const trusted = await trustedMetadataXml(xml, { pinned: metadataCerts, known: [] });
  const md = await parseIdpMetadata(trusted.xml);
  const id = newId('idp');
  try {
    const row = await t.db.idpConnection.create({
      data: {
        id,
        tenantId: t.id,
        kind: 'saml',
        name: common.name ?? md.entityId,
        issuer: md.entityId,
        metadataRefreshedAt: s.clock.now(),
        config: {
          jitEnabled: common.jitEnabled,
          allowedDomains: common.allowedDomains,
          matchBy: common.matchBy,
          mapping: common.mapping,
          saml: { metadataUrl: input.metadataUrl, ssoUrl: md.ssoUrl, signingCerts: md.signingCerts, nameIdFormats: md.nameIdFormats, sloUrl: md.sloUrl, ...(metadataCerts.length && { metadataCerts }), ...(trusted.signed && { metadataSigned: true }) },
        },
      },
    });
    return describeConnection(row);
  } catch (err) {
    if ((err as { code?: string }).code === 'P2002') throw conflict(`A SAML connection for ${md.entityId} already exists`);
    throw err;
  }
}
