import { randomBytes } from 'node:crypto';
import { SAML, ValidateInResponseTo, type CacheProvider } from '@node-saml/node-saml';
import type { Prisma } from '../../generated/prisma/client.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { Connection } from '../connections/manage-connections.js';
import { peekLoginState, saveLoginState } from '../login-state.js';
import { SsoError, ssoMessages } from '../sso-error.js';
import { certPem, currentCerts } from './parse-idp-metadata.js';
import { spKeys } from './sp-keys.js';

/** SAML 2.0 Web SSO: ≤ 2 minutes of clock skew between us and the IdP. */
export const SAML_SKEW_MS = 2 * 60_000;

export const spEntityId = (s: Services, t: TenantCtx) => `${s.config.publicUrl}/t/${t.slug}/saml/metadata`;
export const spAcsUrl = (s: Services, t: TenantCtx) => `${s.config.publicUrl}/t/${t.slug}/saml/acs`;
export const spSloUrl = (s: Services, t: TenantCtx) => `${s.config.publicUrl}/t/${t.slug}/saml/slo`;

/** Extra facts of an SP-initiated login: ForceAuthn, and what the LoginState row must remember with the request id. */
export interface LoginOptions {
  forceAuthn?: boolean;
  state?: Prisma.InputJsonObject;
}

/**
 * AuthnRequest ids live in LoginState (tenant-scoped, shared by every node), so a response's InResponseTo is only
 * accepted for a request this tenant sent through this connection. node-saml only peeks; we consume the row
 * ourselves once the whole response is valid (see consume-saml-response.ts), so removeAsync is a no-op.
 */
function requestCache(s: Services, t: TenantCtx, conn: Connection, returnTo: string, kind: 'saml' | 'saml-logout', browser: string | undefined, extra: Prisma.InputJsonObject): CacheProvider {
  return {
    saveAsync: async (key, value) => {
      // `browser`: hash of the browser's login-binding nonce (browser-binding.ts), checked at /saml/complete.
      await saveLoginState(s, t, conn.id, key, { ...extra, kind, createdAt: value, returnTo, ...(browser && { browser }) });
      return { value, createdAt: Date.now() };
    },
    // A LogoutRequest id ('saml-logout') never answers an AuthnRequest, nor the other way round.
    getAsync: async (key) => {
      const row = await peekLoginState(s, t, key);
      return row && row.connectionId === conn.id && row.data.kind === kind ? String(row.data.createdAt) : null;
    },
    removeAsync: async (key) => key,
  };
}

/**
 * node-saml configured with everything it does not default safely: SHA-256 request signatures (its default is
 * SHA-1), audience = our entity ID, InResponseTo checked whenever present (IdP-initiated logins have none), a signed
 * assertion required unless the connection accepts a signed Response alone, the SP key that decrypted the assertion
 * (`decryptionKey`, found by inspect-response.ts), and only the IdP's currently valid metadata certificates.
 */
export async function samlInstance(
  s: Services,
  t: TenantCtx,
  conn: Connection,
  returnTo = '',
  decryptionKey?: string,
  purpose: 'login' | 'logout' = 'login',
  browser?: string,
  login: LoginOptions = {},
): Promise<SAML> {
  const keys = await spKeys(s, t);
  const certs = currentCerts(conn.config.saml!.signingCerts, s.clock.now());
  if (certs.length === 0) {
    throw new SsoError('saml.config', 'no_valid_certificate', ssoMessages.failed, 'every signing certificate in the IdP metadata is expired or not yet valid', 503, {}, conn.id);
  }
  const entityId = spEntityId(s, t);
  return new SAML({
    issuer: entityId,
    audience: entityId,
    callbackUrl: spAcsUrl(s, t),
    entryPoint: conn.config.saml!.ssoUrl,
    idpCert: certs.map(certPem),
    privateKey: keys.signing.privateKeyPem,
    decryptionPvk: decryptionKey ?? keys.encryption[0]!.privateKeyPem,
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256',
    // Our metadata says WantAssertionsSigned="true": the assertion's own signature is required. With
    // acceptUnsignedAssertions a signed Response covering it is enough (node-saml refuses a response with neither).
    wantAssertionsSigned: !conn.config.saml!.acceptUnsignedAssertions,
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: SAML_SKEW_MS,
    validateInResponseTo: ValidateInResponseTo.ifPresent,
    requestIdExpirationPeriodMs: 10 * 60_000,
    cacheProvider: requestCache(s, t, conn, returnTo, purpose === 'login' ? 'saml' : 'saml-logout', browser, login.state ?? {}),
    // Re-authentication and "Test sign-in": the IdP must authenticate the user anew, not reuse its own session (SAML
    // core §3.4.1 ForceAuthn); the AuthnInstant of the answer is checked against the request (consume-saml-response.ts).
    forceAuthn: login.forceAuthn === true,
    // Single logout (single-logout.ts): where our LogoutRequests/Responses go, and whose logout messages we accept.
    logoutUrl: conn.config.saml!.sloUrl ?? '',
    idpIssuer: conn.issuer,
    // Okta has no NameID-format field: ask for none, accept unspecified and emailAddress.
    identifierFormat: null,
    disableRequestedAuthnContext: true,
    generateUniqueId: () => `_${randomBytes(20).toString('hex')}`,
  });
}
