import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { ConnectorRow } from '../connector-store.js';
import type { MicrosoftConfig } from './microsoft-config.js';
import { deserializeCredential } from './microsoft-credential.js';
import { GROUPS_OVERAGE_SCOPES, graphScopes } from './microsoft-scopes.js';
import { msalClient } from './msal-client.js';

/** Most groups read for one user (Graph pages of 999; Entra's own token limit is 200 before overage). */
const MAX_GROUPS = 5_000;

/**
 * Groups overage: an Entra ID token with more than 200 groups carries `_claim_names`/`_claim_sources` (or `hasgroups`)
 * instead of `groups`. The user's group object ids — the same values the `groups` claim would have held — are read
 * from `/me/transitiveMemberOf/microsoft.graph.group` with an OBO token for GroupMember.Read.All, following
 * `@odata.nextLink` on the same Graph host only. Throws on any failure (the caller keeps memberships unchanged).
 */
export async function resolveOverageGroups(
  s: Pick<Services, 'vault' | 'clock' | 'egress'>,
  t: TenantCtx,
  connector: ConnectorRow,
  config: MicrosoftConfig,
  tid: string,
  assertion: string,
): Promise<string[]> {
  const credential = deserializeCredential(await s.vault.getString(t, connector.secretId ?? ''));
  const cca = await msalClient(config, credential, tid, s.clock.now().getTime(), s.egress.fetch);
  const result = await cca.acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes: graphScopes(config.graphEndpoint, GROUPS_OVERAGE_SCOPES), skipCache: true });
  if (!result?.accessToken) throw new Error('no Graph token');
  const origin = new URL(config.graphEndpoint).origin;
  const ids: string[] = [];
  let url: string | null = `${config.graphEndpoint}/v1.0/me/transitiveMemberOf/microsoft.graph.group?$select=id&$top=999`;
  while (url && ids.length < MAX_GROUPS) {
    if (new URL(url).origin !== origin) throw new Error('nextLink to another host');
    const res = await s.egress.fetch(url, { headers: { authorization: `Bearer ${result.accessToken}`, accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(15_000) });
    if (!res.ok) throw new Error(`Graph answered HTTP ${res.status}`);
    const body = (await res.json()) as { value?: { id?: string }[]; '@odata.nextLink'?: string };
    for (const g of body.value ?? []) if (typeof g.id === 'string') ids.push(g.id);
    url = body['@odata.nextLink'] ?? null;
  }
  return ids;
}
