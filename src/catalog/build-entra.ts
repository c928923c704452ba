import { createHash } from 'node:crypto';
import { SCIM_TOKEN_TTL_S } from '../oauth/build-provider.js';
import type { Artifact, BuildInput } from './artifact.js';
import { urlOf } from './catalog-urls.js';
import { entraChecklist } from './entra-checklist.js';
import { GRAPH_APP_ID } from '../connectors/microsoft/microsoft-scopes.js';
import { graphDelegatedPermissions } from './graph-permissions.js';

/** Entra's placeholder for the customer's tenant in gallery URL patterns. */
export const ENTRA_TENANT = '<tenant>';

/** A stable UUID (RFC 9562 §5.8 layout) from a name: regenerating the manifest keeps the scope's id. */
export function stableUuid(name: string): string {
  const h = createHash('sha256').update(name).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * The multi-tenant app registration as a Microsoft Graph `application` resource (upload in *App registrations ›
 * Manifest*, or `POST /applications`), the SCIM provisioning settings, the gallery submission sheet and checklist.
 */
export function buildEntra({ base, catalog }: BuildInput): Artifact[] {
  const c = catalog.config;
  const permissions = graphDelegatedPermissions();
  const application = {
    displayName: c.product.name,
    description: c.product.shortDescription,
    // Any organisation's Entra tenant, never personal Microsoft accounts (gallery OIDC requirement).
    signInAudience: 'AzureADMultipleOrgs',
    // identifierUris needs the appId Entra assigns: a second `manifests build` after the first upload fills it.
    identifierUris: c.entra.appId ? [`api://${c.entra.appId}`] : [],
    web: {
      homePageUrl: c.entra.marketingUrl,
      // The one redirect URI of multi-tenant sign-ins (tenant from the signed state) and the admin-consent callback.
      redirectUris: [urlOf(base, 'entraCallback'), urlOf(base, 'sharedOidcCallback')],
      implicitGrantSettings: { enableAccessTokenIssuance: false, enableIdTokenIssuance: false },
    },
    api: {
      requestedAccessTokenVersion: 2,
      oauth2PermissionScopes: [
        {
          id: stableUuid(`${base}#access_as_user`),
          value: 'access_as_user',
          type: 'User',
          isEnabled: true,
          adminConsentDisplayName: `Access ${c.product.name} as the signed-in user`,
          adminConsentDescription: `Lets ${c.product.name} call Microsoft Graph on behalf of the signed-in user (on-behalf-of flow) for the tools an administrator approved.`,
          userConsentDisplayName: `Access ${c.product.name} as you`,
          userConsentDescription: `Lets ${c.product.name} act for you with the tools your administrator approved.`,
        },
      ],
      knownClientApplications: [],
      preAuthorizedApplications: [],
    },
    requiredResourceAccess: [{ resourceAppId: GRAPH_APP_ID, resourceAccess: permissions.map((p) => ({ id: p.id, type: 'Scope' })) }],
    optionalClaims: {
      // `email` only with a verified `oid` (gallery OIDC rules); `upn` for tenants without mail; `ctry` helps support.
      idToken: [
        { name: 'email', essential: false, additionalProperties: [] },
        { name: 'upn', essential: false, additionalProperties: [] },
        { name: 'family_name', essential: false, additionalProperties: [] },
        { name: 'given_name', essential: false, additionalProperties: [] },
      ],
      accessToken: [{ name: 'idtyp', essential: false, additionalProperties: [] }],
      saml2Token: [],
    },
    // Security groups and directory roles (`wids`): the onboarding flow checks that the consenting admin holds an admin role.
    groupMembershipClaims: 'SecurityGroup',
    info: {
      marketingUrl: c.entra.marketingUrl,
      privacyStatementUrl: c.publisher.privacyUrl,
      supportUrl: c.publisher.supportUrl,
      termsOfServiceUrl: c.publisher.termsUrl,
    },
  };
  const scim = {
    // The only place Entra's `?aadOptscim062020` flag may go is the Tenant URL; our SCIM needs none of its quirk fixes.
    tenantUrl: urlOf(base, 'scimBase', ENTRA_TENANT),
    authentication: {
      // Entra gallery apps: OAuth 2.0 client credentials (no long-lived bearer tokens, no Basic, no auth-code).
      method: 'oauth2_client_credentials',
      tokenEndpoint: urlOf(base, 'token', ENTRA_TENANT),
      scope: 'scim',
      clientCredentialsSource: `sso-bridge client add --tenant ${ENTRA_TENANT} --name "Entra provisioning" --scim`,
      accessTokenLifetimeSeconds: SCIM_TOKEN_TTL_S,
      // A static bearer token only for Microsoft's validation run (`scim-token create`), revoked afterwards.
      validationRunBearerToken: `sso-bridge scim-token create --tenant ${ENTRA_TENANT} --label "Entra validation"`,
    },
    objects: { users: true, groups: true },
    deletion: 'soft',
    multiMemberGroupPatch: true,
    schemaDiscovery: true,
    minimumRequestsPerSecondPerTenant: 25,
  };
  const submission = {
    appName: c.product.name,
    partnerId: c.entra.partnerId,
    capabilities: ['SINGLE_SIGN_ON', 'USER_PROVISIONING'],
    sso: {
      oidc: {
        signInAudience: 'AzureADMultipleOrgs',
        applicationId: c.entra.appId,
        signOnUrl: urlOf(base, 'entraStart'),
        adminConsentRedirectUri: urlOf(base, 'entraCallback'),
      },
      saml: {
        identifierPattern: urlOf(base, 'samlMetadata', ENTRA_TENANT),
        replyUrlPattern: urlOf(base, 'samlAcs', ENTRA_TENANT),
        signOnUrlPattern: urlOf(base, 'samlLogin', ENTRA_TENANT),
        metadataUrlPattern: urlOf(base, 'samlMetadata', ENTRA_TENANT),
        singleLogout: true,
      },
    },
    provisioning: { tenantUrlPattern: scim.tenantUrl, authentication: 'oauth2_client_credentials' },
    graphPermissions: permissions.map((p) => ({ permission: p.name, type: 'Delegated', justification: p.justification.join('; ') })),
    publisher: {
      name: c.publisher.name,
      website: c.publisher.website,
      supportEmail: c.publisher.supportEmail,
      supportUrl: c.publisher.supportUrl,
      privacyUrl: c.publisher.privacyUrl,
      termsUrl: c.publisher.termsUrl,
      documentationUrl: c.publisher.documentationUrl,
    },
    logos: { large: 'logo-215x215.png', small: 'logo-150x122.png' },
  };
  return [
    { catalog: 'entra-gallery', file: 'application.json', kind: 'json', schema: 'entra-application', data: application },
    { catalog: 'entra-gallery', file: 'scim-provisioning.json', kind: 'json', schema: 'entra-scim', data: scim },
    { catalog: 'entra-gallery', file: 'gallery-submission.json', kind: 'json', schema: 'entra-gallery-submission', data: submission },
    { catalog: 'entra-gallery', file: 'submission-checklist.md', kind: 'markdown', text: entraChecklist(base, c) },
    { catalog: 'entra-gallery', file: 'logo-215x215.png', kind: 'logo', bytes: catalog.logo('entraLarge'), size: { width: 215, height: 215 }, maxBytes: 1024 * 1024 },
    { catalog: 'entra-gallery', file: 'logo-150x122.png', kind: 'logo', bytes: catalog.logo('entraSmall'), size: { width: 150, height: 122 }, maxBytes: 1024 * 1024 },
  ];
}
