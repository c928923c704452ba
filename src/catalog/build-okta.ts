import type { Artifact, BuildInput } from './artifact.js';
import { urlOf } from './catalog-urls.js';
import { oktaConfigurationGuide, oktaTestPlan } from './okta-guides.js';

/**
 * Okta's three tenant-variable syntaxes (catalogs.md §1, §6): SAML fields are expressions over org properties
 * (`${org.tenant}`), OIDC fields name app properties (`{app.tenant}`), SCIM and Universal Logout URLs are EL string
 * concatenations (`'https://…/t/' + app.tenant + '/scim/v2'`). Never mixed within one protocol.
 */
export const oktaVars = (name: string) => ({
  saml: `\${org.${name}}`,
  oidc: `{app.${name}}`,
  el: (base: string, route: Parameters<typeof urlOf>[1]) => {
    const [before, after] = urlOf(base, route).split('{slug}') as [string, string];
    return `'${before}' + app.${name} + '${after}'`;
  },
});

/** SCIM provisioning features we implement (src/scim): no password sync (SSO-only accounts), no profile sourcing. */
export const OKTA_PROVISIONING_FEATURES = [
  'CREATE_USER',
  'READ_USER',
  'UPDATE_USER',
  'DEACTIVATE_USER',
  'PATCH_USER',
  'IMPORT_USERS',
  'IMPORT_USER_SCHEMA',
  'CREATE_GROUP',
  'READ_GROUP',
  'UPDATE_GROUP',
  'DELETE_GROUP',
];

/** The OIN Submissions API payload (`POST /integrations/api/v1/submissions`), the customer guide and the test plan. */
export function buildOkta({ base, catalog }: BuildInput): Artifact[] {
  const c = catalog.config;
  const v = oktaVars(c.okta.tenantVariable.name);
  const submission = {
    name: c.product.name,
    description: c.product.description,
    logo: 'logo.png',
    useCases: c.product.useCases,
    config: [{ label: c.okta.tenantVariable.label, name: c.okta.tenantVariable.name }],
    capabilities: [
      { capability: 'SSO', supportedProtocols: ['SAML', 'OIDC'] },
      { capability: 'PROVISIONING', supportedProtocols: ['SCIM_2_0'] },
      // src/universal-logout implements the Global Token Revocation endpoint.
      { capability: 'UNIVERSAL_LOGOUT' },
    ],
    sso: {
      saml: {
        acs: [{ url: urlOf(base, 'samlAcs', v.saml), index: 0 }],
        entityId: urlOf(base, 'samlMetadata', v.saml),
        // No NameID-format field in the Wizard: our SP accepts unspecified and emailAddress (catalogs.md §1).
        attributeStatements: [
          { name: 'email', values: ['user.email'] },
          { name: 'firstName', values: ['user.firstName'] },
          { name: 'lastName', values: ['user.lastName'] },
          { name: 'displayName', values: ['user.displayName'] },
        ],
        groupAttributeStatements: [{ name: 'groups', filterType: 'REGEX', filterValue: '.*' }],
        spInitiateUrl: urlOf(base, 'samlLogin', v.saml),
        spInitiateDescription: `The user opens ${urlOf(base, 'login', v.saml)} (or any page of the tenant), which sends a signed AuthnRequest to Okta; Okta posts the response to the ACS URL.`,
        signInFlows: ['IDP_INITIATED', 'SP_INITIATED'],
        supportsJit: true,
        configGuideUrl: c.okta.ssoConfigGuideUrl,
      },
      oidc: {
        // Web application, authorization-code flow, org authorization server only; no refresh tokens, no
        // offline_access and no custom scopes (not even `groups`) in an OIN OIDC app: groups come from SCIM.
        applicationType: 'web',
        grantTypes: ['authorization_code'],
        responseTypes: ['code'],
        scopes: ['openid', 'profile', 'email'],
        redirectUris: [urlOf(base, 'oidcCallback', v.oidc)],
        initiateLoginUri: urlOf(base, 'oidcLogin', v.oidc),
        postLogoutUris: [urlOf(base, 'login', v.oidc)],
        spInitiateUrl: urlOf(base, 'oidcLogin', v.oidc),
        supportsJit: true,
        configGuideUrl: c.okta.ssoConfigGuideUrl,
      },
    },
    provisioning: {
      features: OKTA_PROVISIONING_FEATURES,
      // HEADER = `Authorization: <token>`, BEARER = `Authorization: Bearer <token>`; we accept both. Basic is not
      // allowed in the OIN and not offered by us.
      scim: { baseUri: v.el(base, 'scimBase'), authMode: 'BEARER', userIdentifier: 'userName' },
      configGuideUrl: c.okta.scimConfigGuideUrl,
    },
    universalLogout: {
      globalTokenRevocationEndpoint: v.el(base, 'globalTokenRevocation'),
      authMode: 'SIGNED_JWT',
      subjectFormat: 'EMAIL',
      partialSupport: false,
    },
    support: { email: c.publisher.supportEmail, escalationEmail: c.publisher.escalationEmail, url: c.publisher.supportUrl },
    testAccount: c.okta.testAccount,
  };
  return [
    { catalog: 'okta-oin', file: 'submission.json', kind: 'json', schema: 'okta-oin-submission', data: submission },
    { catalog: 'okta-oin', file: 'test-plan.md', kind: 'markdown', text: oktaTestPlan(base, c) },
    { catalog: 'okta-oin', file: 'configuration-guide.md', kind: 'markdown', text: oktaConfigurationGuide(base, c) },
    // PNG/JPG/GIF < 1 MB, transparent PNG preferred; 244×244 is one of the accepted sizes.
    { catalog: 'okta-oin', file: 'logo.png', kind: 'logo', bytes: catalog.logo('okta'), size: { width: 244, height: 244 }, maxBytes: 1024 * 1024 - 1 },
  ];
}
