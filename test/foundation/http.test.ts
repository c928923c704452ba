import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands.js';
import { setTenantStatus } from '../../src/tenants/manage-tenants.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe.each(testDbKinds)('HTTP service (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  it('answers /healthz with {"status":"ok"} and a request id', async () => {
    const res = await fetch(`${app.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reports readiness with the database kind and the event bus (PGlite counts as listening)', async () => {
    const res = await fetch(`${app.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', database: kind, bus: 'listening' });
  });

  it('keeps a sane incoming request id and replaces a hostile one', async () => {
    const ok = await fetch(`${app.url}/healthz`, { headers: { 'x-request-id': 'trace-123' } });
    expect(ok.headers.get('x-request-id')).toBe('trace-123');
    const bad = await fetch(`${app.url}/healthz`, { headers: { 'x-request-id': 'a b<script>' } });
    expect(bad.headers.get('x-request-id')).not.toContain('<');
  });

  it('answers unknown, malformed and disabled tenant slugs with the same 404', async () => {
    const t = await app.createTenant('gone-corp');
    await setTenantStatus(app.services.db, t.slug, 'disabled');
    const bodies = [];
    for (const slug of ['no-such-tenant', 'gone-corp', 'UPPER', '..', 'a']) {
      const res = await fetch(`${app.url}/t/${slug}/api/me`);
      expect(res.status).toBe(404);
      bodies.push(await res.text());
    }
    expect(new Set(bodies).size).toBe(1);
    expect(bodies[0]).not.toMatch(/gone-corp|tenant/i);
  });

  it('stops answering for a tenant the moment it is disabled, although tenants are cached', async () => {
    const t = await app.createTenant();
    const probe = () => fetch(`${app.url}/t/${t.slug}/api/me`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect((await probe()).status).toBe(400); // resolved (an unknown tenant is 404 before the body is read)
    const disable = commands.find((c) => c.name === 'tenant disable')!;
    await disable.run(app.services, { tenant: t.slug });
    expect((await probe()).status).toBe(404);
    await commands.find((c) => c.name === 'tenant enable')!.run(app.services, { tenant: t.slug });
    expect((await probe()).status).toBe(400);
  });

  it('refuses malformed JSON with 400 and an oversized body with 413, never a 500 or a stack', async () => {
    const t = await app.createTenant();
    const malformed = await fetch(`${app.url}/t/${t.slug}/api/me`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a": ',
    });
    expect(malformed.status).toBe(400);
    const body = await malformed.json();
    expect(body).toEqual({ error: 'invalid_request', message: 'Request body is not valid JSON' });

    const big = await fetch(`${app.url}/t/${t.slug}/api/me`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(big.status).toBe(413);
    const text = await big.text();
    expect(text).not.toMatch(/at .*\.(js|ts):\d+/);
  });

  it('sends security headers (frame-ancestors none, no x-powered-by)', async () => {
    const res = await fetch(`${app.url}/healthz`);
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('answers unknown paths with a JSON 404', async () => {
    const res = await fetch(`${app.url}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not_found', message: 'Not found' });
  });
});
