import type { Services } from '../../services.js';
import { spAcsUrl, spEntityId, spSloUrl } from '../../sso/saml/saml-instance.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';

/** What an IdP admin pastes into Okta, Entra or Google for this tenant: our SAML SP values and OIDC redirect URI. */
export function spValues(s: Services, t: TenantCtx) {
  const base = `${s.config.publicUrl}/t/${t.slug}`;
  return {
    entityId: spEntityId(s, t),
    acsUrl: spAcsUrl(s, t),
    sloUrl: spSloUrl(s, t),
    metadataUrl: `${base}/saml/metadata`,
    signOnUrl: `${base}/login`,
    oidcRedirectUri: `${base}/oidc/callback`,
    oidcInitiateLoginUri: `${base}/oidc/login`,
    sharedOidcRedirectUri: `${s.config.publicUrl}/oidc/callback`,
  };
}
