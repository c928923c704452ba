import { badRequest, notFound } from '../../lib/errors.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { refreshIdpGrantNames } from '../../tools/idp-group-grants.js';
import { findConnector, type ConnectorRow } from '../connector-store.js';
import { GoogleSession, GoogleToolFailure } from './google-call.js';
import { googleConfig } from './google-config.js';
import { DIRECTORY_SYNC_SCOPES } from './google-scopes.js';
import { GoogleTokenError } from './google-token.js';

/** Google's group id (e.g. `03x8tuzt3hqdv5v`): what `tool approve --idp-group google:ID` takes. */
const GOOGLE_GROUP_ID = /^[A-Za-z0-9]{1,64}$/;
const MAX_RESULTS = 200;
/** Pages read per query at most: the picker shows a bounded list, and a narrower search finds the rest. */
const MAX_PAGES = 5;
/** Reading groups needs only this one of the directory-sync scopes (least privilege; already delegated for sync). */
const GROUP_SCOPES = DIRECTORY_SYNC_SCOPES.filter((s) => s.endsWith('admin.directory.group.readonly'));

export interface GoogleGroup {
  id: string;
  name: string;
  email: string | null;
}

async function googleConnector(t: TenantCtx): Promise<ConnectorRow> {
  const row = await findConnector(t, 'google');
  if (!row) throw notFound('This tenant has no Google connector (connector add-google)');
  return row;
}

/** A Google failure as the admin's to read ("Google Workspace: …"), never a stack. */
function failed(err: unknown): never {
  if (err instanceof GoogleToolFailure) throw badRequest(`Google Workspace: ${err.message}`);
  if (err instanceof GoogleTokenError) throw badRequest(`Google Workspace: the connector's admin could not be signed in (${err.code}); run "connector test"`);
  throw err;
}

/** The Admin SDK Directory client, as the connector's admin (`--admin-email`) with the group read scope. */
async function directory(s: Services, t: TenantCtx, row: ConnectorRow, signal: AbortSignal) {
  const session = new GoogleSession({ s, t, connector: row, userId: 'group-picker', clientId: 'group-picker', signal }, googleConfig(row).adminEmail, GROUP_SCOPES);
  const dir = (await session.googleapis()).admin({ version: 'directory_v1', ...(await session.options()) });
  return { session, dir };
}

/**
 * A value in Google's group search syntax (Directory API "Search for groups"): single-quoted when it holds whitespace
 * or a quote, with `'` escaped as `\'`.
 */
const searchValue = (v: string) => (/[\s'\\]/.test(v) ? `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : v);

/**
 * The tenant's Google groups (its `customerId`) whose name or e-mail starts with `search` — Google's `name:{PREFIX}*`
 * and `email:{PREFIX}*`, two requests since clauses of one query are ANDed — or the first ones when none is given,
 * at most `limit`, by name. Reading names here also refreshes those stored with IdP-group grants.
 */
export async function searchGoogleGroups(s: Services, t: TenantCtx, opts: { search?: string | undefined; limit?: number | undefined; signal?: AbortSignal }): Promise<{ groups: GoogleGroup[]; truncated: boolean }> {
  const search = opts.search?.trim() ?? '';
  if (search.length > 100 || [...search].some((ch) => ch.charCodeAt(0) < 0x20)) throw badRequest('search: up to 100 printable characters');
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), MAX_RESULTS);
  const row = await googleConnector(t);
  const customer = googleConfig(row).customerId;
  const signal = opts.signal ?? AbortSignal.timeout(10_000);
  const found = new Map<string, GoogleGroup>();
  let truncated = false;
  try {
    const { session, dir } = await directory(s, t, row, signal);
    const queries = search ? [`name:${searchValue(`${search}*`)}`, `email:${searchValue(`${search}*`)}`] : [undefined];
    // Google may answer fewer than maxResults per page: follow nextPageToken until one more than asked, boundedly.
    const read = async (query: string | undefined) => {
      const out: GoogleGroup[] = [];
      let pageToken: string | undefined;
      for (let page = 0; page < MAX_PAGES && out.length <= limit; page++) {
        const data = await session.api('admin.directory.groups.list', async (o) => ({ data: (await dir.groups.list({ customer, maxResults: Math.min(limit + 1, 200), ...(query && { query }), ...(pageToken && { pageToken }) }, o)).data }));
        for (const g of data.groups ?? []) if (g.id) out.push({ id: g.id, name: g.name || g.email || g.id, email: g.email ?? null });
        pageToken = data.nextPageToken ?? undefined;
        if (!pageToken) break;
      }
      if (pageToken) truncated = true;
      return out;
    };
    for (const list of await Promise.all(queries.map(read))) for (const g of list) if (!found.has(g.id)) found.set(g.id, g);
  } catch (err) {
    failed(err);
  }
  const groups = [...found.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  if (groups.length > limit) truncated = true;
  await refreshIdpGrantNames(s, t, 'google', groups.slice(0, limit));
  return { groups: groups.slice(0, limit), truncated };
}

/** Looks up Google groups by id (404 → not found), for grants made before anyone from them arrived. */
export async function getGoogleGroups(s: Services, t: TenantCtx, ids: string[]): Promise<{ id: string; name: string }[]> {
  const wanted = [...new Set(ids.map((x) => x.trim()).filter(Boolean))];
  const bad = wanted.find((x) => !GOOGLE_GROUP_ID.test(x));
  if (bad !== undefined) throw badRequest(`--idp-group "google:${bad.slice(0, 80)}" is not a Google group id`);
  if (wanted.length === 0) return [];
  const row = await googleConnector(t);
  const customer = googleConfig(row).customerId;
  const { session, dir } = await directory(s, t, row, AbortSignal.timeout(10_000)).catch(failed);
  const out: { id: string; name: string }[] = [];
  for (const id of wanted) {
    try {
      const g = await session.api('admin.directory.groups.get', async (o) => ({ data: (await dir.groups.get({ groupKey: id }, o)).data }));
      out.push({ id, name: g.name || g.email || id });
    } catch (err) {
      if (err instanceof GoogleToolFailure && err.failure === 'not_found') throw notFound(`No group ${id} in Google Workspace (customer ${customer})`);
      failed(err);
    }
  }
  return out;
}
