import { afterAll, describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { cli, connect, createUser, startUpstream, type FakeVerifier, type Upstream, useGatewayApp } from './support.js';

const text = (r: unknown) => ((r as { content: { text: string }[] }).content[0]?.text ?? '') as string;

describe.each(testDbKinds)('circuit breakers around upstream MCP servers (%s)', (kind) => {
  let app: TestApp;
  let fake: FakeVerifier;
  let healthy: Upstream;
  let flaky: Upstream | undefined;
  useGatewayApp(kind, (a, f, u) => {
    app = a;
    fake = f;
    healthy = u;
  });
  afterAll(() => flaky?.close());

  it('a dead upstream fails fast with a clear tool error, healthy upstreams are unaffected, and it recovers by itself', async () => {
    const t = await app.createTenant();
    const user = await createUser(t, 'breaker@example.com');
    flaky = await startUpstream();
    const port = Number(new URL(flaky.url).port);
    await cli(app, 'upstream add', { tenant: t.slug, name: 'up', url: healthy.url });
    await cli(app, 'upstream add', { tenant: t.slug, name: 'flaky', url: flaky.url });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'up__echo', group: [] });
    await cli(app, 'tool approve', { tenant: t.slug, tool: 'flaky__echo', group: [] });
    const { client } = await connect(app, t, fake.issue(t, user));
    const call = (name: string) => client.callTool({ name, arguments: { text: 'x' } });
    expect(text(await call('flaky__echo'))).toBe('echo: x');

    await flaky.close(); // dies
    for (let i = 0; i < 5; i++) {
      const r = await call('flaky__echo');
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/unreachable/);
    }
    // Open: refused at once, with a message saying so, without touching the network.
    const fast = await call('flaky__echo');
    expect(fast.isError).toBe(true);
    expect(text(fast)).toBe('The server behind this tool is unavailable (it failed repeatedly). Try again in 30 s.');
    expect(text(await call('up__echo'))).toBe('echo: x');

    // It comes back; after the open period one probe goes through and closes the circuit.
    flaky = await startUpstream(port);
    expect(text(await call('flaky__echo'))).toMatch(/unavailable/);
    app.clock.advance(30_000);
    expect(text(await call('flaky__echo'))).toBe('echo: x');
    expect(text(await call('flaky__echo'))).toBe('echo: x');
    await client.close();

    // Tool calls by upstream and outcome, and the opened circuit, are in the metrics.
    const body = await app.services.metrics.registry.metrics();
    expect(body).toMatch(/sso_bridge_tool_calls_total\{upstream="flaky",outcome="unreachable"\} 7/);
    expect(body).toMatch(/sso_bridge_tool_calls_total\{upstream="flaky",outcome="success"\} 3/);
    expect(body).toMatch(/sso_bridge_tool_calls_total\{upstream="up",outcome="success"\} [1-9]/);
    expect(body).toMatch(/sso_bridge_tool_call_duration_seconds_count\{upstream="flaky"\} 10/);
    expect(body).toMatch(/sso_bridge_circuit_opened_total\{kind="upstream"\} 1/);
    expect(body).toMatch(/sso_bridge_circuits_open 0/);
  });
});
