import { Writable } from 'node:stream';
import express from 'express';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { redactPaths } from '../../src/lib/logger.js';
import { startServer, type RunningServer } from '../../src/http/start-server.js';
import { createScimToken } from '../../src/scim/scim-tokens.js';
import { createServices } from '../../src/services.js';
import type { Services } from '../../src/services.js';
import { findTenantBySlug } from '../../src/tenants/find-tenant.js';
import { createTenant, setTenantStatus } from '../../src/tenants/manage-tenants.js';
import { updateTenantSettings } from '../../src/tenants/update-settings.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';
import { freePort, testMasterKey } from '../support/test-app.js';
import { userOperations } from '../../src/scim/scim-operations.js';
import { ENTERPRISE, ERROR, GROUP, PATCH_OP, USER } from './scim-client.js';

// The SCIM hot path (src/scim/scim-endpoint.ts) must answer exactly as the Express routes do. Every request below is
// sent twice: to the plain URL, which the hot path serves, and to the same URL with the tenant slug's dash
// percent-encoded (`%2D`), which the hot path leaves to Express (Express decodes it: same tenant, same routes). The
// spy on Express's `app.handle` proves which path answered each. Compared: status, body, the headers a client or
// browser acts on, the request's log lines and its SCIM operation count.

type Line = { msg?: string; reqId?: string; status?: number; scimType?: string; req?: { id?: string; url?: string; remoteAddress?: string }; res?: { statusCode?: number } };

function captureLogger() {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Line);
      cb();
    },
  });
  return { lines, logger: pino({ level: 'info', redact: { paths: redactPaths, censor: '[redacted]' } }, stream) };
}

/** Every response header but those that differ per request by nature. */
const IGNORED = new Set(['date', 'x-request-id', 'connection', 'keep-alive']);

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
  viaExpress: boolean;
  logs: string[];
  counted: unknown[][];
}

describe.each(testDbKinds)('the SCIM hot path in front of Express (%s)', (kind) => {
  let server: RunningServer;
  let s: Services;
  const { lines, logger } = captureLogger();
  // `handle` is Express's internal entry point (every app gets it from this prototype when created), not in its types.
  const handle = vi.spyOn(express.application as unknown as { handle: (...args: unknown[]) => void }, 'handle');
  let scimCount: ReturnType<typeof vi.spyOn>;
  const slug = 'eqv-corp';
  const tokens: Record<string, string> = {};
  let n = 0;

  beforeAll(async () => {
    const port = await freePort();
    const config = loadConfig({ PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, MASTER_KEY: testMasterKey(), DATA_DIR: '/tmp', NODE_ENV: 'test' });
    s = await createServices(config, { logger, database: await openTestDatabase(kind) });
    server = await startServer(s, { port, host: '127.0.0.1', adminEndpoint: false });
    for (const [name, status] of [[slug, 'active'], ['eqv-other', 'active'], ['eqv-sync', 'active'], ['eqv-gone', 'disabled']] as const) {
      await createTenant(s.db, { slug: name, name });
      tokens[name] = (await createScimToken((await findTenantBySlug(s.db, name))!, config.publicUrl)).token;
      if (status === 'disabled') await setTenantStatus(s.db, name, 'disabled');
    }
    await updateTenantSettings(s.db, 'eqv-sync', { provisioning: 'directory-sync' });
    scimCount = vi.spyOn(s.metrics, 'scim');
  });
  afterAll(() => server?.close(1000));

  /** One request; `express` sends the twin URL (slug's dash percent-encoded) that only Express serves. */
  async function send(viaExpress: boolean, method: string, path: string, opts: { tenant?: string; token?: string | null; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
    const tenant = opts.tenant ?? slug;
    const token = opts.token === undefined ? tokens[tenant] : opts.token;
    const id = `eqv-${++n}`;
    const calls = handle.mock.calls.length;
    const counted = scimCount.mock.calls.length;
    const res = await fetch(`${server.url}/t/${viaExpress ? tenant.replace('-', '%2D') : tenant}/scim/v2${path}`, {
      method,
      headers: {
        'x-request-id': id,
        'x-forwarded-for': '203.0.113.7',
        ...(token !== null && { authorization: `Bearer ${token}` }),
        ...(opts.body !== undefined && { 'content-type': 'application/scim+json' }),
        ...opts.headers,
      },
      body: opts.body,
    });
    const body = await res.text();
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      if (!IGNORED.has(k)) headers[k] = v;
    });
    expect(res.headers.get('x-request-id')).toBe(id);
    // The request log line comes on 'close', just after the answer.
    await vi.waitFor(() => expect(lines.some((l) => l.req?.id === id)).toBe(true));
    const logs = lines
      .filter((l) => l.req?.id === id || l.reqId === id)
      .map((l) => JSON.stringify({ msg: l.msg, status: l.status, scimType: l.scimType, url: l.req?.url?.replace('%2D', '-'), ip: l.req?.remoteAddress, code: l.res?.statusCode }));
    return { status: res.status, headers, body, viaExpress: handle.mock.calls.length > calls, logs, counted: scimCount.mock.calls.slice(counted) };
  }

  /** Sends a request both ways and expects the same answer; `hot` says whether the plain URL is the hot path's. */
  async function same(method: string, path: string, opts: Parameters<typeof send>[3] & { hot?: boolean } = {}) {
    const fast = await send(false, method, path, opts);
    const slow = await send(true, method, path, opts);
    expect(slow.viaExpress, `${method} ${path}: the twin goes to Express`).toBe(true);
    expect(fast.viaExpress, `${method} ${path}: served by ${opts.hot === false ? 'Express' : 'the hot path'}`).toBe(opts.hot === false);
    expect({ status: fast.status, headers: fast.headers, body: fast.body }, `${method} ${path}`).toEqual({ status: slow.status, headers: slow.headers, body: slow.body });
    expect(fast.logs, `${method} ${path}: log lines`).toEqual(slow.logs);
    expect(fast.counted, `${method} ${path}: SCIM operation count`).toEqual(slow.counted);
    return fast;
  }

  /** Writes create different resources each way: ids, names and times are replaced before comparing. */
  async function sameWrite(make: (viaExpress: boolean) => Promise<Answer>, names: [string, string]) {
    const fast = await make(false);
    const slow = await make(true);
    expect(fast.viaExpress).toBe(false);
    expect(slow.viaExpress).toBe(true);
    const ids = (a: Answer) => [...new Set(a.body.match(/\b(?:usr|grp)_[a-z0-9]+/g) ?? [])];
    const norm = (a: Answer, name: string) => {
      let text = JSON.stringify({ status: a.status, headers: a.headers, body: a.body });
      ids(a).forEach((id, i) => (text = text.replaceAll(id, `<id${i}>`)));
      return text.replaceAll(name, '<name>').replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g, '<time>');
    };
    expect(norm(fast, names[0])).toBe(norm(slow, names[1]));
    const anyId = (logs: string[]) => logs.map((l) => l.replace(/\b(?:usr|grp)_[a-z0-9]+/g, '<id>'));
    expect(anyId(fast.logs)).toEqual(anyId(slow.logs));
    expect(fast.counted).toEqual(slow.counted);
    return [fast, slow] as const;
  }

  const userBody = (userName: string) =>
    JSON.stringify({ schemas: [USER, ENTERPRISE], userName, externalId: `x-${userName}`, active: true, name: { givenName: 'Eq', familyName: 'User' }, emails: [{ primary: true, type: 'work', value: userName }] });
  const patchBody = JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'displayName', value: 'Eq User' }, { op: 'Replace', path: `${ENTERPRISE}:department`, value: 'Bench' }] });

  it("serves Entra's cycle (GET filter, POST, PATCH, GET) and a group's as Express does", async () => {
    await same('GET', `/Users?filter=${encodeURIComponent('userName eq "a1@eqv.example"')}`);
    const [fast, slow] = await sameWrite((x) => send(x, 'POST', '/Users', { body: userBody(x ? 'b1@eqv.example' : 'a1@eqv.example') }), ['a1@eqv.example', 'b1@eqv.example']);
    expect(fast.status).toBe(201);
    expect(fast.headers.location).toMatch(/\/t\/eqv-corp\/scim\/v2\/Users\/usr_/);
    const idOf = (a: Answer) => (JSON.parse(a.body) as { id: string }).id;
    await same('GET', `/Users?filter=${encodeURIComponent('userName eq "a1@eqv.example"')}`);
    await same('GET', `/Users?filter=${encodeURIComponent('externalId eq "x-a1@eqv.example"')}&attributes=userName,externalId&count=5`);
    await same('GET', `/Users/${idOf(fast)}`);
    await same('GET', `/Users/${idOf(fast)}/?excludedAttributes=emails`);
    await same('GET', `/Users/?startIndex=2&count=1`);
    await sameWrite((x) => send(x, 'PATCH', `/Users/${idOf(x ? slow : fast)}`, { body: patchBody, headers: { 'if-match': 'W/"1"' } }), ['a1@eqv.example', 'b1@eqv.example']);
    // A PATCH that changes nothing is no new version.
    await sameWrite((x) => send(x, 'PATCH', `/Users/${idOf(x ? slow : fast)}`, { body: patchBody }), ['a1@eqv.example', 'b1@eqv.example']);

    const [g1, g2] = await sameWrite(
      (x) => send(x, 'POST', '/Groups', { body: JSON.stringify({ schemas: [GROUP], displayName: x ? 'Eq Group B' : 'Eq Group A', members: [{ value: idOf(fast) }] }) }),
      ['Eq Group A', 'Eq Group B'],
    );
    await same('GET', `/Groups/${idOf(g1)}`);
    await same('GET', `/Groups?filter=${encodeURIComponent('displayName eq "Eq Group A"')}&excludedAttributes=members`);
    const groupPatch = (member: string) => JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${member}"]` }] });
    await sameWrite((x) => send(x, 'PATCH', `/Groups/${idOf(x ? g2 : g1)}`, { body: groupPatch(idOf(fast)) }), ['Eq Group A', 'Eq Group B']);
  });

  it('refuses hostile and mistaken requests with the same SCIM errors, headers and log lines', async () => {
    const created = await send(false, 'POST', '/Users', { body: userBody('hostile@eqv.example') });
    const id = (JSON.parse(created.body) as { id: string }).id;
    // Credentials: none, unknown, another tenant's, not a bearer token.
    await same('GET', '/Users', { token: null });
    await same('GET', '/Users', { token: 'scim_not-a-token' });
    await same('POST', '/Users', { token: tokens['eqv-other'], body: userBody('other@eqv.example') });
    await same('PATCH', `/Users/${id}`, { headers: { authorization: 'Basic dXNlcjpwYXNz' }, body: patchBody });
    // Bodies: wrong media type, none, malformed JSON, a charset JSON may not use, more than 4 MB.
    await same('POST', '/Users', { body: userBody('plain@eqv.example'), headers: { 'content-type': 'text/plain' } });
    await same('POST', '/Users', { headers: { 'content-type': 'application/json' } });
    await same('POST', '/Users', { body: '' });
    await same('POST', '/Users', { body: '{"schemas": [' });
    await same('PATCH', `/Users/${id}`, { body: patchBody, headers: { 'content-type': 'application/scim+json; charset=latin1' } });
    await same('POST', '/Users', { body: JSON.stringify({ schemas: [USER], userName: 'big@eqv.example', pad: 'x'.repeat(4 * 1024 * 1024) }) });
    await same('POST', '/Users', { body: JSON.stringify({ schemas: [USER] }) });
    await same('POST', '/Users', { body: userBody('hostile@eqv.example') }); // uniqueness
    // Filters and pages.
    await same('GET', `/Users?filter=${encodeURIComponent('userName eq')}`);
    await same('GET', `/Users?filter=${encodeURIComponent('password eq "x"')}`);
    await same('GET', '/Users?filter=a&filter=b');
    await same('GET', '/Users?count=abc');
    // Versions and ids.
    await same('PATCH', `/Users/${id}`, { body: patchBody, headers: { 'if-match': 'W/"7"' } });
    await same('PATCH', `/Users/${id}`, { body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'explode', path: 'title' }] }) });
    await same('GET', '/Users/usr_doesnotexist');
    await same('PATCH', '/Users/usr_doesnotexist', { body: patchBody });
    await same('GET', '/Groups/grp_doesnotexist');
    // Tenants: disabled and unknown (Express's 404 for both paths), directory sync (reads yes, writes no).
    await same('GET', '/Users', { tenant: 'eqv-gone', hot: false });
    await same('POST', '/Users', { tenant: 'eqv-nobody', token: tokens[slug], body: userBody('n@eqv.example'), hot: false });
    await same('GET', '/Users', { tenant: 'eqv-sync' });
    await same('POST', '/Users', { tenant: 'eqv-sync', body: userBody('sync@eqv.example') });
    await same('POST', '/Users', { tenant: 'eqv-sync', body: '{oops' });
    await same('PATCH', '/Groups/grp_x', { tenant: 'eqv-sync', body: patchBody });
  });

  it('answers an unexpected fault with the same 500 SCIM Error carrying only the trace id, details in the log', async () => {
    const fault = vi.spyOn(userOperations, 'get').mockRejectedValue(new Error('secret detail'));
    try {
      const fast = await send(false, 'GET', '/Users/usr_any');
      const slow = await send(true, 'GET', '/Users/usr_any');
      expect([fast.viaExpress, slow.viaExpress]).toEqual([false, true]);
      // The bodies differ by their trace ids (the request ids), and so do the weak ETags' hashes over them.
      const trace = (a: Answer, i: number) =>
        JSON.stringify({ ...a, viaExpress: null, headers: { ...a.headers, etag: a.headers.etag?.replace(/-[^"]+"$/, '-<hash>"') } }).replaceAll(`eqv-${i}`, '<trace>');
      expect(trace(fast, n - 1)).toBe(trace(slow, n));
      expect(fast.status).toBe(500);
      expect(JSON.parse(fast.body)).toEqual({ schemas: [ERROR], status: '500', detail: `Internal error (trace id eqv-${n - 1})` });
      expect(fast.logs.some((l) => l.includes('unexpected SCIM error'))).toBe(true);
      expect(fast.body).not.toContain('secret detail');
    } finally {
      fault.mockRestore();
    }
  });

  it('leaves everything else to Express: other methods and paths, conditional GETs, other casings', async () => {
    const created = await send(false, 'POST', '/Users', { body: userBody('rest@eqv.example') });
    const id = (JSON.parse(created.body) as { id: string }).id;
    const express = { hot: false };
    await same('GET', `/Users/${id}`, { ...express, headers: { 'if-none-match': 'W/"1"' } });
    await same('GET', `/Users/${id}`, { ...express, headers: { 'if-modified-since': new Date().toUTCString() } });
    await same('PUT', `/Users/${id}`, { ...express, body: userBody('rest@eqv.example'), headers: { 'if-match': 'W/"9"' } });
    await same('POST', '/Users/.search', { ...express, body: JSON.stringify({ filter: 'userName eq "rest@eqv.example"' }) });
    await same('POST', `/Users/${id}`, { ...express, body: '{}' });
    await same('PATCH', '/Users', { ...express, body: patchBody });
    await same('HEAD', `/Users/${id}`, express);
    await same('GET', '/ServiceProviderConfig', express);
    await same('GET', '/users', express);
    await same('GET', `/Users/${id}/extra`, express);
    await same('GET', '/Users//', express);
    await same('DELETE', `/Users/${id}`, { ...express, headers: { 'if-match': 'W/"9"' } });
  });
});
