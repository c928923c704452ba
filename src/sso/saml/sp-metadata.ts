import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { escapeHtml as x } from '../../views/html.js';
import { spAcsUrl, spEntityId, spSloUrl } from './saml-instance.js';
import { pemBody, spKeys } from './sp-keys.js';

const formats = [
  'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
];

/**
 * The tenant's SP metadata (SAML metadata §2.4.4): one entity ID and ACS for every IdP the tenant trusts, the SP
 * certificates for signing (our AuthnRequests) and for encryption (assertions to us; the algorithms we accept), and
 * the NameID formats we accept, and our SingleLogoutService (both bindings, one URL).
 */
export async function spMetadata(s: Services, t: TenantCtx): Promise<string> {
  const keys = await spKeys(s, t);
  const keyDescriptor = (use: string, certPem: string) => `    <md:KeyDescriptor use="${use}">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${pemBody(certPem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>${
        use === 'encryption'
          ? `
      <md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>
      <md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes128-gcm"/>
      <md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/>
      <md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/>`
          : ''
      }
    </md:KeyDescriptor>`;
  // During an SP key rotation (rotate-sp-key.ts) two certificates of a use are published: the next one is announced
  // before it signs, and either encryption certificate decrypts.
  return `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${x(spEntityId(s, t))}">
  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
${keys.publishedSigning.map((k) => keyDescriptor('signing', k.certPem)).join('\n')}
${keys.encryption.map((k) => keyDescriptor('encryption', k.certPem)).join('\n')}
${formats.map((f) => `    <md:NameIDFormat>${f}</md:NameIDFormat>`).join('\n')}
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${x(spSloUrl(s, t))}"/>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${x(spSloUrl(s, t))}"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${x(spAcsUrl(s, t))}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
`;
}
