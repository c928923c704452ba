import { z } from 'zod';
import type { ConnectorRow } from '../connector-store.js';

/** Non-secret settings of a Google connector (Connector.config); the key itself is in the vault. */
export const GoogleConfigSchema = z.object({
  clientId: z.string(),
  clientEmail: z.string(),
  adminEmail: z.string(),
  customerId: z.string().default('my_customer'),
  /** Lower-cased domains whose users may be impersonated; a user outside them gets a tool error. */
  domains: z.array(z.string()).min(1),
  /** API root (Private Service Connect, tests); Google's public `https://{api}.googleapis.com/` when absent. */
  apiRoot: z.string().optional(),
  /** Minutes between scheduled directory syncs, when the tenant's provisioning source is this directory. */
  syncIntervalMinutes: z.number().int().min(5).max(1440).default(15),
  /** `publisher`: a Google Workspace Marketplace install signing with the deployment's key (publisher-key.ts). */
  keySource: z.enum(['tenant', 'publisher']).default('tenant'),
});

export type GoogleConfig = z.output<typeof GoogleConfigSchema>;

export const googleConfig = (row: ConnectorRow): GoogleConfig => GoogleConfigSchema.parse(row.config);

/** The part of an e-mail after the last @, lower-cased ('' when there is none). */
export const emailDomain = (email: string) => (email.includes('@') ? email.slice(email.lastIndexOf('@') + 1).toLowerCase() : '');
