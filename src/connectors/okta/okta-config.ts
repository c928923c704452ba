import { z } from 'zod';
import type { ConnectorRow } from '../connector-store.js';

/** The Management API scopes the connector asks for: read-only users, groups and app assignments. */
export const OKTA_SCOPES = ['okta.users.read', 'okta.groups.read', 'okta.apps.read'] as const;

/** Non-secret settings of an Okta connector (Connector.config); the API token or private key is in the vault. */
export const OktaConfigSchema = z.object({
  /** The org's https origin, e.g. https://acme.okta.com (no path, no trailing slash). */
  orgUrl: z.string(),
  /** `private_key`: OAuth 2.0 service app, private-key JWT (recommended); `api_token`: SSWS token of an admin. */
  auth: z.enum(['private_key', 'api_token']),
  /** The service app's client id (private_key only). */
  clientId: z.string().optional(),
  /** The `kid` of the service app's public key registered in Okta (private_key only). */
  keyId: z.string().optional(),
  /** The Okta app integration users sign in to SSO Bridge with: whose assignments decide who may sign in. */
  appId: z.string(),
  appLabel: z.string().optional(),
});

export type OktaConfig = z.output<typeof OktaConfigSchema>;

export const oktaConfig = (row: ConnectorRow): OktaConfig => OktaConfigSchema.parse(row.config);

/** What the vault keeps for an Okta connector (JSON). */
export type OktaSecret = { apiToken: string } | { privateKey: string };
