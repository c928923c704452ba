import type { TenantCtx } from '../tenants/tenant-context.js';

const base = (publicUrl: string, t: TenantCtx) => `${publicUrl}/t/${encodeURIComponent(t.slug)}`;

/** Where a user connects their account at an `oauth-per-user` upstream (behind the tenant's SSO). */
export const connectUrl = (publicUrl: string, t: TenantCtx, upstreamName: string) => `${base(publicUrl, t)}/connect/${encodeURIComponent(upstreamName)}`;

/**
 * The redirect URI of the gateway as an OAuth client of an upstream's authorization server: one per upstream, so an
 * authorization response is only taken for the server it was registered with (mix-up defence, RFC 9700 §4.4.2;
 * decision 0060). Without an upstream id: the tenant's shared callback, kept for clients registered before.
 */
export const upstreamCallbackUrl = (publicUrl: string, t: TenantCtx, upstreamId: string | null) =>
  `${base(publicUrl, t)}/upstream-oauth/callback${upstreamId === null ? '' : `/${encodeURIComponent(upstreamId)}`}`;

/**
 * Our Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document): its URL is the `client_id` at every
 * upstream authorization server that supports CIMD, so nothing has to be registered there by hand.
 */
export const clientMetadataDocumentUrl = (publicUrl: string, t: TenantCtx) => `${base(publicUrl, t)}/upstream-oauth/client-metadata.json`;
