import { conflict } from '../lib/errors.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { ConnectorRow } from './connector-store.js';
import type { DirectorySource } from './directory-source.js';
import { googleConfig } from './google/google-config.js';
import { googleDirectorySource } from './google/google-directory-source.js';
import { oktaDirectorySource } from './okta/okta-directory-source.js';

/** A tenant's directory as reconciliation reads it: the source, its connector, and which local users it speaks for. */
export interface TenantDirectory {
  connector: ConnectorRow;
  source: DirectorySource;
  /**
   * Whether the directory would list a user with this e-mail if they existed there. A user it covers but does not
   * list is gone; a user it does not cover (Google: another domain than the connector's) is left alone.
   */
  covers(email: string): boolean;
}

/** Connector kinds that can be read as a directory, in the order one is picked when a tenant has several. */
export const DIRECTORY_KINDS = ['okta', 'microsoft', 'google'] as const;

const domainOf = (email: string) => email.slice(email.lastIndexOf('@') + 1).toLowerCase();

type Adapter = (s: Services, t: TenantCtx, connector: ConnectorRow, signal: AbortSignal) => Omit<TenantDirectory, 'connector'>;

/**
 * The directory adapter of a connector kind, or null for a kind that has none. ONE switch on the kind: each IdP's
 * adapter lands here with its connector.
 */
function adapterFor(kind: string): Adapter | null {
  switch (kind) {
    case 'google':
      return (s, t, connector, signal) => {
        // Google lists only the customer's accounts: users of other domains are outside what it can vouch for.
        const domains = googleConfig(connector).domains;
        return { source: googleDirectorySource(s, t, connector, signal), covers: (email) => domains.includes(domainOf(email)) };
      };
    case 'okta':
      // Okta lists every user of the org, those not assigned to our app as inactive (docs/connectors/okta.md).
      return (s, t, connector, signal) => ({ source: oktaDirectorySource(s, t, connector, signal), covers: () => true });
    // case 'microsoft': Entra through Graph /users and /groups (Microsoft connector issue), the same way.
    default:
      return null;
  }
}

/**
 * The tenant's directory connector: the one its `reconcile.source` setting names, else the first of
 * {@link DIRECTORY_KINDS} it has (an IdP's own directory before Google's, which may hold only part of the company).
 * Null when the tenant has no connector that can be read as a directory.
 */
export async function directorySourceFor(s: Services, t: TenantCtx, signal: AbortSignal): Promise<TenantDirectory | null> {
  const connector = await directoryConnectorFor(t);
  return connector ? { connector, ...adapterFor(connector.kind)!(s, t, connector, signal) } : null;
}

/** The connector {@link directorySourceFor} would read, without building its client (the scheduler's check). */
export async function directoryConnectorFor(t: TenantCtx): Promise<ConnectorRow | null> {
  const rows = await t.db.connector.findMany({ orderBy: { createdAt: 'asc' } });
  const wanted = t.settings.reconcile.source;
  const ordered = wanted ? rows.filter((r) => r.kind === wanted) : DIRECTORY_KINDS.flatMap((k) => rows.filter((r) => r.kind === k));
  const found = ordered.find((r) => adapterFor(r.kind));
  if (!found && wanted && rows.length) throw conflict(`The tenant's reconcile source is ${wanted}, but it has no ${wanted} connector that can be read as a directory`);
  return found ?? null;
}
