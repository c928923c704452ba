import { allGoogleScopes } from '../connectors/google/google-scopes.js';
import type { Artifact, BuildInput } from './artifact.js';
import { urlOf } from './catalog-urls.js';

/** Sign-in scopes of the install flow (the first admin signs in with Google): non-sensitive. */
export const GOOGLE_SIGN_IN_SCOPES = ['openid', 'https://www.googleapis.com/auth/userinfo.email', 'https://www.googleapis.com/auth/userinfo.profile'];

/**
 * Google Workspace Marketplace: the Marketplace SDK app configuration, the store listing and the OAuth consent screen.
 * The scopes are the same list, same spelling, in all three (the admin install grants them domain-wide): the union of
 * every Google tool's and directory sync's scopes (src/connectors/google/google-scopes.ts) plus sign-in.
 */
export function buildGoogle({ base, catalog }: BuildInput): Artifact[] {
  const c = catalog.config;
  const scopes = [...GOOGLE_SIGN_IN_SCOPES, ...allGoogleScopes()];
  const sdk = {
    projectNumber: c.google.projectNumber,
    appVisibility: c.google.visibility,
    installationSettings: c.google.installation === 'admin_only' ? 'ADMIN_ONLY_INSTALL' : 'INDIVIDUAL_AND_ADMIN_INSTALL',
    appIntegrations: [{ type: 'WEB_APP', universalNavigationUrl: urlOf(base, 'googleLaunch') }],
    oauthScopes: [...scopes],
    developer: { name: c.google.developerName, websiteUrl: c.publisher.website, email: c.publisher.supportEmail },
    // Apps Marketplace API v2 customerLicense: how the deployment checks that a domain still has the app.
    licenseCheck: { api: 'appsmarket.googleapis.com', scope: 'https://www.googleapis.com/auth/appsmarketplace.license' },
  };
  const listing = {
    appName: c.product.name,
    shortDescription: c.product.shortDescription,
    detailedDescription: c.product.description,
    category: c.google.category,
    pricing: c.google.pricing,
    regions: c.google.regions,
    graphics: { icon128: 'icon-128x128.png', icon32: 'icon-32x32.png', banner: 'banner-220x140.png' },
    links: { termsOfServiceUrl: c.publisher.termsUrl, privacyPolicyUrl: c.publisher.privacyUrl, supportUrl: c.publisher.supportUrl },
  };
  const consent = {
    userType: 'External',
    publishingStatus: 'In production',
    appName: c.product.name,
    userSupportEmail: c.publisher.supportEmail,
    appHomepageUrl: c.publisher.website,
    privacyPolicyUrl: c.publisher.privacyUrl,
    termsOfServiceUrl: c.publisher.termsUrl,
    authorizedDomains: [...new Set([new URL(c.publisher.website).hostname.split('.').slice(-2).join('.'), new URL(base).hostname])].sort(),
    developerContactEmails: [c.publisher.supportEmail],
    scopes: [...scopes],
    // Workspace data scopes (Gmail, Drive) are sensitive or restricted: OAuth app verification (and CASA for restricted).
    oauthClient: { type: 'Web application', authorizedRedirectUris: [urlOf(base, 'googleCallback'), urlOf(base, 'sharedOidcCallback')] },
  };
  return [
    { catalog: 'google-workspace', file: 'marketplace-sdk.json', kind: 'json', schema: 'google-marketplace-sdk', data: sdk },
    { catalog: 'google-workspace', file: 'store-listing.json', kind: 'json', schema: 'google-store-listing', data: listing },
    { catalog: 'google-workspace', file: 'oauth-consent-screen.json', kind: 'json', schema: 'google-oauth-consent', data: consent },
    { catalog: 'google-workspace', file: 'icon-128x128.png', kind: 'logo', bytes: catalog.logo('googleIcon128'), size: { width: 128, height: 128 }, maxBytes: 1024 * 1024 },
    { catalog: 'google-workspace', file: 'icon-32x32.png', kind: 'logo', bytes: catalog.logo('googleIcon32'), size: { width: 32, height: 32 }, maxBytes: 1024 * 1024 },
    { catalog: 'google-workspace', file: 'banner-220x140.png', kind: 'logo', bytes: catalog.logo('googleBanner'), size: { width: 220, height: 140 }, maxBytes: 1024 * 1024 },
  ];
}
