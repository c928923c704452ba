import { X509Certificate } from 'node:crypto';
import type { Services } from '../../services.js';
import { listConnections } from '../../sso/connections/manage-connections.js';
import { spKeys } from '../../sso/saml/sp-keys.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

export interface CertificateInfo {
  /** Whose certificate: an IdP connection's signing certificate, or our own SP key. */
  owner: { kind: 'idp'; id: string; name: string } | { kind: 'sp'; use: 'signing' | 'encryption' };
  subject: string;
  notAfter: string;
  daysLeft: number;
  fingerprint256: string;
}

const info = (der: Buffer | string, now: Date, owner: CertificateInfo['owner']): CertificateInfo | null => {
  try {
    const cert = new X509Certificate(der);
    const notAfter = new Date(cert.validTo);
    return { owner, subject: cert.subject.replace(/\n/g, ', '), notAfter: notAfter.toISOString(), daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / 86_400_000), fingerprint256: cert.fingerprint256 };
  } catch {
    return null; // a certificate we cannot parse is not one we could have verified with either
  }
};

/** Every certificate the tenant's SSO depends on, soonest expiry first: IdP signing certificates and our SP keys. */
export async function tenantCertificates(s: Services, t: TenantCtx): Promise<CertificateInfo[]> {
  const now = s.clock.now();
  const out: CertificateInfo[] = [];
  for (const c of await listConnections(t)) {
    const row = await t.db.idpConnection.findFirst({ where: { id: c.id }, select: { config: true } });
    const certs = ((row?.config as { saml?: { signingCerts?: string[] } } | null)?.saml?.signingCerts ?? []);
    for (const b64 of certs) {
      const i = info(Buffer.from(b64, 'base64'), now, { kind: 'idp', id: c.id, name: c.name });
      if (i) out.push(i);
    }
  }
  if (out.length > 0) {
    const keys = await spKeys(s, t);
    for (const k of keys.publishedSigning) {
      const i = info(k.certPem, now, { kind: 'sp', use: 'signing' });
      if (i) out.push(i);
    }
    for (const k of keys.encryption) {
      const i = info(k.certPem, now, { kind: 'sp', use: 'encryption' });
      if (i) out.push(i);
    }
  }
  return out.sort((a, b) => a.daysLeft - b.daysLeft);
}
