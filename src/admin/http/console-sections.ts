import { AuditFilterSchema, whereOf } from '../../audit/export-events.js';
import { listConnectors } from '../../connectors/connector-store.js';
import { lastReconcileRun } from '../../connectors/reconcile/reconcile-runs.js';
import type { Services } from '../../services.js';
import { listConnections } from '../../sso/connections/manage-connections.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { SafeHtml } from '../../views/html.js';
import type { ConsolePage, ConsoleSection } from '../../views/console-layout.js';
import { userAccess, toolAccess } from '../queries/access-matrix.js';
import { tenantCertificates } from '../queries/certificates.js';
import { groupSources, pickableGroups } from '../queries/group-picker.js';
import { consoleOverview } from '../queries/overview.js';
import { listGroups, listUsers, provisioningStatus } from '../queries/provisioning.js';
import { spValues } from '../queries/sp-values.js';
import { toolCatalog } from '../queries/tool-catalog.js';
import { accessPage } from '../pages/access-page.js';
import { auditPage } from '../pages/audit-page.js';
import { overviewPage } from '../pages/overview-page.js';
import { provisioningPage } from '../pages/provisioning-page.js';
import { settingsPage } from '../pages/settings-page.js';
import { ssoPage } from '../pages/sso-page.js';
import { toolsPage } from '../pages/tools-page.js';
import type { SignedInAdmin } from './admin-session.js';

export type Notice = NonNullable<ConsolePage['notice']>;

const sections: Record<string, ConsoleSection> = { '/': '', '/sso': 'sso', '/provisioning': 'provisioning', '/tools': 'tools', '/access': 'access', '/audit': 'audit', '/settings': 'settings' };

export const sectionOfPath = (path: string): ConsoleSection | undefined => sections[new URL(path, 'http://x').pathname];

const AUDIT_PAGE = 50;
const auditQueryKeys = ['since', 'until', 'type', 'actor', 'target', 'outcome', 'before'] as const;

/** Title, lead and body of a console section, from its data (the pages are pure views over src/admin/queries). */
export async function renderSection(s: Services, t: TenantCtx, a: SignedInAdmin, section: ConsoleSection, q: URLSearchParams, extra: Record<string, unknown> = {}): Promise<{ title: string; lead?: string; body: SafeHtml }> {
  const slug = t.slug;
  const csrf = a.csrf;
  switch (section) {
    case '':
      return { title: 'Overview', lead: 'Sign-in, provisioning and tool access at a glance.', body: overviewPage(slug, await consoleOverview(s, t)) };
    case 'sso':
      return {
        title: 'Single sign-on',
        lead: 'Connect your identity provider (SAML 2.0 or OpenID Connect), then test a sign-in.',
        body: ssoPage({ slug, csrf, sp: spValues(s, t), connections: (await listConnections(t)) as never, certificates: await tenantCertificates(s, t) }),
      };
    case 'provisioning': {
      const search = q.get('search') ?? '';
      return {
        title: 'Provisioning',
        lead: 'Users and groups from your identity provider, so joiners get access and leavers lose it at once.',
        body: provisioningPage({ slug, csrf, status: await provisioningStatus(s, t), users: await listUsers(t, search), groups: await listGroups(t, search), search, connections: (await listConnections(t)).map((c) => ({ id: c.id, name: c.name })), created: extra.created as never }),
      };
    }
    case 'tools':
      return { title: 'Tools', lead: 'What AI assistants may call on behalf of your people.', body: toolsPage({ slug, csrf, catalog: await toolCatalog(t), picker: await pickableGroups(t, '', 200, groupSources(s)) }) };
    case 'access': {
      const search = q.get('search') ?? '';
      const userId = q.get('user');
      const tool = q.get('tool');
      return {
        title: 'Access',
        lead: 'Which client can reach which tool for whom, with one-click revoke.',
        body: accessPage({
          slug,
          csrf,
          search,
          users: (await listUsers(t, search, 20)).map((u) => ({ id: u.id, userName: u.userName, displayName: u.displayName, email: u.email })),
          tools: (await toolCatalog(t)).tools.map((x) => x.name),
          user: userId ? await userAccess(t, userId, s.clock.now()).catch(() => undefined) : undefined,
          tool: tool ? await toolAccess(t, tool).catch(() => undefined) : undefined,
        }),
      };
    }
    case 'audit': {
      const query = Object.fromEntries(auditQueryKeys.map((k) => [k, q.get(k) ?? ''])) as Record<string, string>;
      const parsed = AuditFilterSchema.safeParse({
        since: query.since || undefined,
        until: query.until || undefined,
        types: query.type ? [query.type] : [],
        actor: query.actor || undefined,
        target: query.target || undefined,
        outcome: query.outcome || undefined,
      });
      const filter = parsed.success ? parsed.data : AuditFilterSchema.parse({});
      const before = /^\d{1,19}$/.test(query.before ?? '') ? BigInt(query.before!) : null;
      const where = whereOf(filter, 0n);
      const events = await t.db.auditEvent.findMany({ where: before ? { AND: [where, { seq: { lt: before } }] } : where, orderBy: { seq: 'desc' }, take: AUDIT_PAGE });
      const sinks = await t.db.auditSink.findMany({ select: { id: true, url: true, status: true, ackedSeq: true } });
      return {
        title: 'Audit log',
        lead: parsed.success ? 'Every sign-in, provisioning change, tool call and admin action, tamper-evident.' : 'The filter is not valid (dates are like 2026-12-01 or 2026-12-01T10:00:00Z); showing everything.',
        body: auditPage({ slug, query, events, nextBefore: events.length === AUDIT_PAGE ? String(events.at(-1)!.seq) : null, sinks }),
      };
    }
    case 'settings':
      return { title: 'Settings', lead: 'Policies for your organisation.', body: settingsPage({ slug, csrf, settings: t.settings, connectors: await listConnectors(t), lastReconcile: await lastReconcileRun(t) }) };
  }
}
