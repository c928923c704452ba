import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTestApp, type TestApp } from '../support/test-app.js';
import { obtainTokens, createUser } from '../oauth/support/oauth-client.js';
import { cli } from '../mcp/support.js';
import { startBearerProxy, type BearerProxy } from './bearer-proxy.js';
import { startReferenceServer, type ReferenceServer } from './reference-server.js';

const expectedFailures = process.env.CONFORMANCE_BASELINE ?? path.resolve('.ci/conformance-expected-failures.yml');
const conformanceBin = path.join(path.dirname(createRequire(import.meta.url).resolve('@modelcontextprotocol/conformance/package.json')), 'dist/index.js');

function runConformance(url: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    // Results land in a throw-away directory (the tool writes ./results/…).
    const child = spawn(process.execPath, [conformanceBin, 'server', '--url', url, '--expected-failures', expectedFailures], {
      cwd: mkdtempSync(path.join(os.tmpdir(), 'mcp-conformance-')),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ code, output }));
  });
}

/**
 * `@modelcontextprotocol/conformance` server scenarios against the real endpoint, through a proxy that adds a real
 * access token from our authorization server. PUBLIC_URL is the proxy's URL, as behind any reverse proxy, so the
 * token audience and our own Origin match what the suite dials. Behind the gateway runs the suite's reference server
 * (reference-server.ts), added with an empty prefix so its tools, prompts and resources keep the names the scenarios
 * call, every tool and its content approved: tools, prompts, resources, completion, progress, logging, elicitation
 * and sampling all pass THROUGH the gateway. Scenarios that cannot apply to a gateway are listed, with reasons, in
 * .ci/conformance-expected-failures.yml; any other failure, or a listed one that passes, fails here.
 */
describe('MCP conformance suite (pglite)', () => {
  let app: TestApp;
  let proxy: BearerProxy;
  let upstream: ReferenceServer;
  let token = '';
  let slug = '';
  beforeAll(async () => {
    proxy = await startBearerProxy(await freePort(), () => `/t/${slug}/mcp`, () => token);
    app = await startTestApp('pglite', { PUBLIC_URL: proxy.url });
    proxy.target = `http://127.0.0.1:${app.config.port}`;
    upstream = await startReferenceServer();
    const t = await app.createTenant();
    slug = t.slug;
    const added = await cli(app, 'upstream add', { tenant: t.slug, name: 'reference', url: upstream.url, prefix: '' });
    for (const tool of added.tools as string[]) await cli(app, 'tool approve', { tenant: t.slug, tool });
    await cli(app, 'upstream approve-content', { tenant: t.slug, name: 'reference' });
    const user = await createUser(t);
    token = (await obtainTokens(app, t, user.id)).tokens.body.access_token!;
  });
  afterAll(async () => {
    await app?.services.upstreams.close();
    await upstream?.close();
    await app?.close();
    await proxy?.close();
  });

  it('passes every applicable server scenario', { timeout: 240_000 }, async () => {
    const { code, output } = await runConformance(`${proxy.url}/t/${slug}/mcp`);
    if (code !== 0 || process.env.CONFORMANCE_VERBOSE) console.error(output);
    expect(code).toBe(0);
  });
});
