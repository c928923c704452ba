import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSink } from '../../src/audit/sinks/manage-sinks.js';
import { Metrics, routeFamily } from '../../src/metrics/metrics.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { USER, scimTenant } from '../scim/scim-client.js';

const TOKEN = 'metrics-token-0123456789';

describe.each(testDbKinds)('Prometheus /metrics on its own port (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind, { METRICS_PORT: '0', METRICS_HOST: '127.0.0.1', METRICS_TOKEN: TOKEN });
  });
  afterAll(() => app?.close());

  const scrape = async (headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) => fetch(`${app.metricsUrl}/metrics`, { headers });

  it('is served on METRICS_PORT only, behind METRICS_TOKEN', async () => {
    expect(app.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new URL(app.metricsUrl!).port).not.toBe(new URL(app.url).port);
    expect((await scrape({})).status).toBe(401);
    expect((await scrape({ authorization: 'Bearer metrics-token-0123456780' })).status).toBe(401);
    expect((await scrape({ authorization: TOKEN })).status).toBe(401);
    expect((await fetch(`${app.metricsUrl}/other`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    expect((await fetch(`${app.url}/metrics`)).status).toBe(404);
    const ok = await scrape();
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain/);
  });

  it('reports requests by route family, SCIM operations by tenant and result, bus, audit, DB pool and event-loop lag', async () => {
    const s = await scimTenant(app);
    expect((await s.call('POST', '/Users', { schemas: [USER], userName: 'metrics@example.com' })).status).toBe(201);
    expect((await s.call('POST', '/Users', { schemas: [USER], userName: 'metrics@example.com' })).status).toBe(409);
    expect((await fetch(`${s.base}/Users`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    const body = await (await scrape()).text();
    const slug = s.t.slug;
    expect(body).toContain(`sso_bridge_scim_operations_total{tenant="${slug}",resource="Users",method="POST",result="success"} 1`);
    expect(body).toContain(`sso_bridge_scim_operations_total{tenant="${slug}",resource="Users",method="POST",result="client_error"} 1`);
    expect(body).toContain(`sso_bridge_scim_operations_total{tenant="${slug}",resource="Users",method="GET",result="client_error"} 1`);
    expect(body).toMatch(/sso_bridge_http_request_duration_seconds_count\{family="scim",status="2xx"\} [1-9]/);
    expect(body).toMatch(/sso_bridge_http_request_duration_seconds_count\{family="scim",status="4xx"\} [1-9]/);
    expect(body).toMatch(/sso_bridge_http_request_duration_seconds_count\{family="health",status="2xx"\} [1-9]/);
    expect(body).toContain('sso_bridge_event_bus_listening 1');
    expect(body).toMatch(/sso_bridge_audit_backlog_events \d+/);
    expect(body).toMatch(/sso_bridge_nodejs_eventloop_lag_seconds \d/);
    expect(body).toContain('# TYPE sso_bridge_tokens_issued_total counter');
    if (kind === 'postgres') expect(body).toMatch(/sso_bridge_db_pool_connections\{state="max"\} \d+/);
    else expect(body).not.toMatch(/sso_bridge_db_pool_connections\{/);
    // Never a raw path or a secret in a label.
    expect(body).not.toContain('/t/');
    expect(body).not.toContain('wrong');
  });

  it('reports SIEM sinks by status and how far the furthest-behind one lags', async () => {
    const t = await app.createTenant();
    for (let i = 0; i < 5; i++) await app.services.audit.record(t, { actor: { kind: 'system' }, action: 'test.event', outcome: 'success' });
    const behind = await addSink(app.services, t, { url: 'http://127.0.0.1:9/siem', fromStart: true });
    const dead = await addSink(app.services, t, { url: 'syslog://127.0.0.1:9' });
    await t.db.auditSink.updateMany({ where: { id: dead.id }, data: { status: 'dead-letter' } });
    // Kept from being attempted meanwhile: this test reads the gauges, not the delivery.
    await t.db.auditSink.updateMany({ where: { id: behind.id }, data: { nextAttemptAt: new Date(Date.now() + 3_600_000) } });
    const body = await (await scrape()).text();
    expect(body).toContain('sso_bridge_audit_sinks{status="active"} 1');
    expect(body).toContain('sso_bridge_audit_sinks{status="dead-letter"} 1');
    expect(body).toMatch(/sso_bridge_audit_sink_lag_events ([5-9]|\d\d+)\n/);
    await t.db.auditSink.deleteMany({});
  });

  it('maps paths to a bounded set of route families', () => {
    expect(routeFamily('/t/acme/mcp')).toBe('mcp');
    expect(routeFamily('/t/acme/scim/v2/Users?filter=x')).toBe('scim');
    expect(routeFamily('/t/acme/oauth/token')).toBe('oauth');
    expect(routeFamily('/t/acme/saml/acs')).toBe('sso');
    expect(routeFamily('/t/acme/login')).toBe('sso');
    expect(routeFamily('/t/acme/api/me')).toBe('api');
    expect(routeFamily('/t/acme/apps')).toBe('pages');
    expect(routeFamily('/.well-known/oauth-authorization-server/t/acme')).toBe('oauth');
    expect(routeFamily('/readyz')).toBe('health');
    expect(routeFamily('/t/acme')).toBe('other');
    expect(routeFamily('/anything')).toBe('other');
  });
});

describe('metrics while the database does not answer', () => {
  it('still scrapes: the sink gauges keep their last values, everything else is reported', async () => {
    let fail = false;
    const m = new Metrics(
      {
        busListening: () => false,
        auditBacklog: () => 7,
        auditFailed: () => 0,
        dbPool: () => undefined,
        openCircuits: () => 0,
        auditSinks: async () => {
          if (fail) throw new Error('connection refused');
          return { active: 2, deadLetter: 1, maxLagEvents: 40 };
        },
      },
      { defaultMetrics: false },
    );
    expect(await m.registry.metrics()).toContain('sso_bridge_audit_sinks{status="dead-letter"} 1');
    fail = true;
    const body = await m.registry.metrics();
    expect(body).toContain('sso_bridge_event_bus_listening 0');
    expect(body).toContain('sso_bridge_audit_backlog_events 7');
    expect(body).toContain('sso_bridge_audit_sinks{status="dead-letter"} 1');
    expect(body).toContain('sso_bridge_audit_sink_lag_events 40');
  });
});
