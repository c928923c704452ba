import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  type ClientCapabilities,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { cli, createUser, useFakeVerifier, type FakeVerifier } from './support.js';
import { startRelayUpstream, type RelayUpstream } from './relay-upstream.js';

const text = (r: object) => (((r as { content?: { text?: string }[] }).content ?? [])[0]?.text ?? '');

describe.each(testDbKinds)('MCP relay: progress, logs, elicitation, sampling through the gateway (%s)', (kind) => {
  let app: TestApp;
  let fake: FakeVerifier;
  let upstream: RelayUpstream;
  let t: TenantCtx;
  beforeAll(async () => {
    app = await startTestApp(kind);
    fake = useFakeVerifier(app);
    upstream = await startRelayUpstream();
    t = await app.createTenant();
    await cli(app, 'upstream add', { tenant: t.slug, name: 'up', url: upstream.url });
    for (const tool of ['progress', 'wait', 'ask', 'ask_url', 'sample', 'smuggle']) await cli(app, 'tool approve', { tenant: t.slug, tool: `up__${tool}` });
  }, 60_000);
  afterAll(async () => {
    upstream?.release();
    await app?.services.upstreams.close();
    await upstream?.close();
    await app?.close();
  });

  /** The SDK client declaring `capabilities`, signed in as a new user. */
  async function client(capabilities: ClientCapabilities, name = `u-${Math.random().toString(36).slice(2)}@example.com`) {
    const userId = await createUser(t, name);
    const token = fake.issue(t, userId);
    const c = new Client({ name: 'relay-test', version: '1.0.0' }, { capabilities });
    const transport = new StreamableHTTPClientTransport(new URL(mcpResourceUrl(app.url, t)), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
    await c.connect(transport);
    return { c, transport, token };
  }

  it('relays progress (with the client own token) and the upstream log messages of the call', { timeout: 60_000 }, async () => {
    const { c } = await client({});
    const logs: unknown[] = [];
    c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
    const progress: Progress[] = [];
    const result = await c.callTool({ name: 'up__progress', arguments: {} }, undefined, { onprogress: (p) => progress.push(p) });
    expect(text(result)).toBe('token seen: yes');
    expect(progress.map((p) => p.progress)).toEqual([1, 2]);
    expect(logs).toEqual(['working']);
    // The upstream got the gateway's own token, never the client's (tokens must be unique on the shared session).
    expect(String(upstream.tokens.at(-1))).toMatch(/^gw-\d+$/);
    await c.close();
  });

  it('relays a form elicitation to a client that declared it, and its answer back to the upstream', { timeout: 60_000 }, async () => {
    const { c } = await client({ elicitation: {} });
    const asked: string[] = [];
    c.setRequestHandler(ElicitRequestSchema, (r) => {
      asked.push(r.params.message);
      return { action: 'accept', content: { colour: 'blue' } };
    });
    const result = await c.callTool({ name: 'up__ask', arguments: {} });
    expect(text(result)).toBe('answer: accept {"colour":"blue"}');
    expect(asked).toEqual(['Your favourite colour?']);
    await c.close();
  });

  it('relays a URL elicitation only to a client that declared URL mode; refuses it cleanly otherwise', { timeout: 60_000 }, async () => {
    const withUrl = await client({ elicitation: { form: {}, url: {} } });
    const urls: string[] = [];
    withUrl.c.setRequestHandler(ElicitRequestSchema, (r) => {
      if (r.params.mode === 'url') urls.push(r.params.url);
      return { action: 'accept' };
    });
    expect(text(await withUrl.c.callTool({ name: 'up__ask_url', arguments: {} }))).toBe('url answer: accept');
    expect(urls).toEqual(['https://upstream.example/connect']);
    await withUrl.c.close();

    const formOnly = await client({ elicitation: {} });
    let reached = 0;
    formOnly.c.setRequestHandler(ElicitRequestSchema, () => {
      reached++;
      return { action: 'decline' };
    });
    const refused = await formOnly.c.callTool({ name: 'up__ask_url', arguments: {} });
    expect(refused.isError).toBe(true);
    expect(upstream.errors.ask_url).toMatch(/did not declare URL elicitation/);
    expect(reached).toBe(0);
    await formOnly.c.close();
  });

  it('relays sampling to a client that declared it; a client that did not never sees the request', { timeout: 60_000 }, async () => {
    const sampler = await client({ sampling: {} });
    sampler.c.setRequestHandler(CreateMessageRequestSchema, () => ({ model: 'm', role: 'assistant', content: { type: 'text', text: 'hi' } }));
    expect(text(await sampler.c.callTool({ name: 'up__sample', arguments: {} }))).toBe('model said: hi');
    await sampler.c.close();

    const plain = await client({ elicitation: {} });
    const unexpected: string[] = [];
    plain.c.fallbackRequestHandler = async (r) => {
      unexpected.push(r.method);
      return {};
    };
    const refused = await plain.c.callTool({ name: 'up__sample', arguments: {} });
    expect(refused.isError).toBe(true);
    expect(upstream.errors.sample).toMatch(/-32601.*did not declare the sampling capability/);
    expect(unexpected).toEqual([]);
    await plain.c.close();
  });

  it('hostile upstream: nothing it sends outside a call, or with another call token, reaches another user client', { timeout: 60_000 }, async () => {
    const victim = await client({ elicitation: { form: {}, url: {} }, sampling: {} });
    const seen: string[] = [];
    victim.c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void seen.push(`log ${String(n.params.data)}`));
    victim.c.fallbackRequestHandler = async (r) => {
      seen.push(`request ${r.method}`);
      return {};
    };
    victim.c.setRequestHandler(ElicitRequestSchema, (r) => {
      seen.push(`elicit ${r.params.message}`);
      return { action: 'decline' };
    });
    let firstProgress!: () => void;
    const started = new Promise<void>((resolve) => (firstProgress = resolve));
    const progress: Progress[] = [];
    const call = victim.c.callTool({ name: 'up__wait', arguments: {} }, undefined, {
      onprogress: (p) => {
        progress.push(p);
        firstProgress();
      },
      timeout: 50_000,
    });
    await started; // the victim's call runs and the upstream knows its progress token

    const attacker = await client({ elicitation: {}, sampling: {} });
    expect(text(await attacker.c.callTool({ name: 'up__smuggle', arguments: {} }))).toBe('smuggled');
    // The unrelated elicitation went to the gateway's own upstream client, which answers -32601.
    expect(upstream.errors.smuggle).toMatch(/-32601|Method not found/);
    upstream.release();
    expect(text(await call)).toBe('released');
    expect(progress.map((p) => p.progress)).toEqual([1]);
    expect(seen).toEqual([]);
    await victim.c.close();
    await attacker.c.close();
  });

  it("another user cannot answer a relayed request: the answer is taken only from the client it was sent to", { timeout: 60_000 }, async () => {
    const victim = await client({ elicitation: {} });
    const attacker = await client({ elicitation: {} });
    let relayedId: string | number = '';
    let answer!: (colour: string) => void;
    victim.c.setRequestHandler(ElicitRequestSchema, async (_r, extra) => {
      relayedId = extra.requestId;
      return { action: 'accept', content: { colour: await new Promise<string>((resolve) => (answer = resolve)) } };
    });
    const call = victim.c.callTool({ name: 'up__ask', arguments: {} }, undefined, { timeout: 50_000 });
    await expect.poll(() => relayedId, { timeout: 30_000 }).not.toBe('');
    expect(String(relayedId)).toMatch(/^gw-r-[0-9a-f-]{36}$/);
    // The attacker posts an answer with the relayed id, on its own session (and once without any session).
    const forged = { jsonrpc: '2.0', id: relayedId, result: { action: 'accept', content: { colour: 'red' } } };
    for (const session of [attacker.transport.sessionId, undefined]) {
      const res = await fetch(mcpResourceUrl(app.url, t), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${attacker.token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...(session && { 'mcp-session-id': session }),
        },
        body: JSON.stringify(forged),
      });
      expect(res.status).toBe(202);
    }
    answer('blue');
    expect(text(await call)).toBe('answer: accept {"colour":"blue"}');
    await victim.c.close();
    await attacker.c.close();
  });

  it('an answer that reached another node comes through the bus (mcp.response) to the waiting call', { timeout: 60_000 }, async () => {
    const { c, transport } = await client({ elicitation: {} }, `bus@${Math.random().toString(36).slice(2)}.example`);
    let relayedId: string | number = '';
    c.setRequestHandler(ElicitRequestSchema, async (_r, extra) => {
      relayedId = extra.requestId;
      return new Promise(() => undefined); // this client never answers over HTTP: the answer arrives as another node's event
    });
    const call = c.callTool({ name: 'up__ask', arguments: {} }, undefined, { timeout: 50_000 });
    await expect.poll(() => relayedId, { timeout: 30_000 }).not.toBe('');
    const user = await t.db.user.findFirst({ where: { userName: { startsWith: 'bus@' } } });
    const key = JSON.stringify([t.id, user!.id, 'client-a', transport.sessionId, String(relayedId)]);
    const message = JSON.stringify({ jsonrpc: '2.0', id: relayedId, result: { action: 'accept', content: { colour: 'green' } } });
    // A key naming another principal (here: no session) matches nothing.
    await app.services.bus.publish({ type: 'mcp.response', tenantId: t.id, key: JSON.stringify([t.id, user!.id, 'client-a', '', String(relayedId)]), message: message.replace('green', 'red') });
    await app.services.bus.publish({ type: 'mcp.response', tenantId: t.id, key, message });
    expect(text(await call)).toBe('answer: accept {"colour":"green"}');
    await c.close();
  });
});
