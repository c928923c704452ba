import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { ConnectorRow } from '../connector-store.js';
import type { DirectoryGroup, DirectorySource, DirectoryUser } from '../directory-source.js';
import { oktaClientFor, type OktaApi } from './okta-client.js';
import { oktaConfig } from './okta-config.js';
import { OktaError, toOktaError } from './okta-error.js';

/**
 * Okta user statuses that still may sign in. STAGED (never activated), SUSPENDED and DEPROVISIONED may not;
 * LOCKED_OUT and PASSWORD_EXPIRED are temporary states of a current employee, not leavers.
 */
const SIGN_IN_STATUSES = new Set(['ACTIVE', 'PROVISIONED', 'RECOVERY', 'PASSWORD_EXPIRED', 'LOCKED_OUT']);

/** Page sizes: the maxima Okta documents for each list (fewer requests against the rate limit). */
const USERS_PAGE = 200;
const APP_USERS_PAGE = 500;
const GROUPS_PAGE = 200;
const MEMBERS_PAGE = 1000;

const OKTA_ID = /^[A-Za-z0-9]{1,64}$/;

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);

/**
 * Iterates an SDK collection (it follows `Link: rel="next"` through our executor, which pins the origin and honours
 * rate limits), turning any failure into an OktaError: the caller never sees a partial listing as complete. The SDK
 * yields `null` for an empty page that still has a next link; those are skipped.
 */
async function* items<T>(open: () => Promise<AsyncIterable<T | null>>, signal?: AbortSignal): AsyncGenerator<T> {
  try {
    for await (const item of await open()) {
      signal?.throwIfAborted();
      if (item !== null && item !== undefined) yield item;
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw toOktaError(err);
  }
}

/**
 * The tenant's Okta directory as a DirectorySource (reconciliation, `connector sync-directory`):
 * - users: every user of the org (Okta's list omits DEPROVISIONED ones, which therefore count as gone), `active` only
 *   when the user is assigned to our app integration — directly or through a group — and in a status that may sign
 *   in. Unassigned or suspended users are listed inactive, so they are deactivated, not deleted;
 * - groups: every group of the org (Okta groups, groups imported from AD/LDAP, the built-in Everyone);
 * - members: a group's users.
 * The listings are read when iterated; any failure throws (docs/connectors/okta.md).
 */
export function oktaDirectorySource(s: Services, t: TenantCtx, connector: ConnectorRow, signal?: AbortSignal): DirectorySource & {
  /** Ids of the users assigned to our app (directly or through a group), as Okta's app-user list has them. */
  listAssignedUserIds(): AsyncIterable<string>;
} {
  const config = oktaConfig(connector);
  let api: Promise<OktaApi> | undefined;
  const client = () => (api ??= oktaClientFor(s, t, connector, signal));

  async function* listAssignedUserIds(): AsyncGenerator<string> {
    const { client: c } = await client();
    for await (const u of items(() => c.applicationApi.listApplicationUsers({ appId: config.appId, limit: APP_USERS_PAGE }), signal)) {
      const id = str(u.id);
      if (id) yield id;
    }
  }

  return {
    kind: 'okta',
    listAssignedUserIds,
    async *listUsers(): AsyncGenerator<DirectoryUser> {
      // Assignments first: the user listing is then streamed, each user judged as it comes.
      const assigned = new Set<string>();
      for await (const id of listAssignedUserIds()) assigned.add(id);
      const { client: c } = await client();
      for await (const u of items(() => c.userApi.listUsers({ limit: USERS_PAGE }), signal)) {
        const id = str(u.id);
        const profile = (u.profile ?? {}) as Record<string, unknown>;
        const email = str(profile.email) ?? str(profile.login);
        if (!id || !email) throw new OktaError(0, 'E_SHAPE', 'Okta listed a user without an id or e-mail');
        const first = str(profile.firstName);
        const last = str(profile.lastName);
        const status = String(u.status ?? '');
        const isAssigned = assigned.has(id);
        yield {
          externalId: id,
          email: email.toLowerCase(),
          displayName: str(profile.displayName) ?? ([first, last].filter(Boolean).join(' ') || null),
          givenName: first,
          familyName: last,
          title: str(profile.title),
          active: isAssigned && SIGN_IN_STATUSES.has(status),
          userName: str(profile.login)?.toLowerCase() ?? null,
          // Audit evidence of a deactivation: Okta's status, and whether the user was still assigned to our app.
          status: isAssigned ? status : `${status}, not assigned to the app`,
        };
      }
    },
    async *listGroups(): AsyncGenerator<DirectoryGroup> {
      const { client: c } = await client();
      for await (const g of items(() => c.groupApi.listGroups({ limit: GROUPS_PAGE }), signal)) {
        const id = str(g.id);
        const name = str((g.profile as { name?: unknown } | undefined)?.name);
        if (!id || !name) throw new OktaError(0, 'E_SHAPE', 'Okta listed a group without an id or name');
        yield { externalId: id, displayName: name, email: null };
      }
    },
    async *listMembers(groupExternalId: string): AsyncGenerator<string> {
      if (!OKTA_ID.test(groupExternalId)) throw new OktaError(0, 'E_INPUT', 'Not an Okta group id');
      const { client: c } = await client();
      for await (const u of items(() => c.groupApi.listGroupUsers({ groupId: groupExternalId, limit: MEMBERS_PAGE }), signal)) {
        const id = str(u.id);
        if (id) yield id;
      }
    },
  };
}
