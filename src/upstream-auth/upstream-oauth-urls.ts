import type { TenantCtx } from '../tenants/tenant-context.js';

const base = (publicUrl: string, t: TenantCtx) => `${publicUrl}/t/${encodeURIComponent(t.slug)}`;

/** Where a user connects their account at an `oauth-per-user` upstream (behind the tenant's SSO). */
export const connectUrl = (publicUrl: string, t: TenantCtx, upstreamName: string) => `${base(publicUrl, t)}/connect/${encodeURIComponent(upstreamName)}`;

/** The redirect URI of the gateway as an OAuth client of upstream authorization servers (one per tenant). */
export const upstreamCallbackUrl = (publicUrl: string, t: TenantCtx) => `${base(publicUrl, t)}/upstream-oauth/callback`;

/**
 * Our Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document): its URL is the `client_id` at every
 * upstream authorization server that supports CIMD, so nothing has to be registered there by hand.
 */
export const clientMetadataDocumentUrl = (publicUrl: string, t: TenantCtx) => `${base(publicUrl, t)}/upstream-oauth/client-metadata.json`;
