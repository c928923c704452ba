import { z } from 'zod';
import type { ConnectorRow } from '../connector-store.js';

/**
 * National clouds (Microsoft Graph "national cloud deployments"): each has its own Entra authority host and Graph
 * endpoint, and tokens of one are worthless in another. GCC High and DoD share the US Government authority.
 */
export const MICROSOFT_CLOUDS = {
  global: { authorityHost: 'https://login.microsoftonline.com', graphEndpoint: 'https://graph.microsoft.com' },
  usgov: { authorityHost: 'https://login.microsoftonline.us', graphEndpoint: 'https://graph.microsoft.us' },
  usgovdod: { authorityHost: 'https://login.microsoftonline.us', graphEndpoint: 'https://dod-graph.microsoft.us' },
  china: { authorityHost: 'https://login.chinacloudapi.cn', graphEndpoint: 'https://microsoftgraph.chinacloudapi.cn' },
} as const;
export type MicrosoftCloud = keyof typeof MICROSOFT_CLOUDS;

/** Non-secret settings of a Microsoft connector (Connector.config); the client secret or certificate is in the vault. */
export const MicrosoftConfigSchema = z.object({
  /** The app registration's application (client) id: the SSO connection's client and the OBO client are one app. */
  clientId: z.string(),
  cloud: z.enum(['global', 'usgov', 'usgovdod', 'china', 'custom']),
  /** https origin of the Entra authority (no tenant path): the cloud's, or --authority-host. */
  authorityHost: z.string(),
  /** https origin of Microsoft Graph (no version path): the cloud's, or --graph-endpoint. */
  graphEndpoint: z.string(),
  credential: z.enum(['secret', 'certificate']),
  /** SHA-256 thumbprint (hex) of the certificate credential, shown so admins can match it in the portal. */
  thumbprintSha256: z.string().optional(),
  /** The scope of our own API requested at SSO so the user's token can be an OBO assertion. */
  apiScope: z.string(),
});

export type MicrosoftConfig = z.output<typeof MicrosoftConfigSchema>;

export const microsoftConfig = (row: ConnectorRow): MicrosoftConfig => MicrosoftConfigSchema.parse(row.config);

/** The default OBO assertion scope: the "expose an API" scope of the app registration. */
export const defaultApiScope = (clientId: string) => `api://${clientId}/access_as_user`;

/** The tenant-specific authority for a user's home tenant — never /common or /organizations for OBO. */
export const authorityFor = (config: MicrosoftConfig, tid: string) => `${config.authorityHost}/${tid}`;
