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
  /** `publisher`: a Google Workspace Marketplace install signing with the deployment's key (publisher-key.ts). */
  keySource: z.enum(['tenant', 'publisher']).default('tenant'),
});

export type GoogleConfig = z.output<typeof GoogleConfigSchema>;

export const googleConfig = (row: ConnectorRow): GoogleConfig => GoogleConfigSchema.parse(row.config);

/** The part of an e-mail after the last @, lower-cased ('' when there is none). */
export const emailDomain = (email: string) => (email.includes('@') ? email.slice(email.lastIndexOf('@') + 1).toLowerCase() : '');

/**
 * A Google Workspace username (the local part of a primary e-mail): letters, digits, dashes, underscores, apostrophes
 * and periods, at most 64 (Admin console rules). Anything else — `+` sub-addresses, quoted or percent-routed local
 * parts, non-ASCII look-alikes, spaces — can never be a Workspace account, so it is refused before Google is asked.
 */
const WORKSPACE_LOCAL_PART = /^[a-z0-9_'-](?:[a-z0-9_.'-]{0,62}[a-z0-9_'-])?$/;

/**
 * The Google identity (DWD `sub`) a user of ours may be impersonated as: their own e-mail, trimmed and lower-cased,
 * only when it is a plausible Workspace address with exactly one `@` whose domain is one of the connector's (exact
 * match: `acme.com.evil.com`, `evil-acme.com` and `sub.acme.com` are not `acme.com`). Null otherwise: never a
 * normalised or guessed other address (`a+x@acme.com` is not `a@acme.com`).
 */
export function googleSubject(email: string | null | undefined, domains: readonly string[]): string | null {
  const e = (email ?? '').trim().toLowerCase();
  const at = e.indexOf('@');
  if (at <= 0 || at !== e.lastIndexOf('@')) return null;
  const local = e.slice(0, at);
  const domain = e.slice(at + 1);
  if (!WORKSPACE_LOCAL_PART.test(local) || local.includes('..')) return null;
  return domains.includes(domain) ? e : null;
}
