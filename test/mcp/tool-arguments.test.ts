import { describe, expect, it, vi } from 'vitest';
import { mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import { MAX_ARGUMENT_DEPTH } from '../../src/tools/call-tool.js';
import type { TestApp } from '../support/test-app.js';
import { createUser, useGatewayApp, type FakeVerifier } from './support.js';

type RpcError = { error?: { code: number; message: string; data?: { traceId?: string } } };

describe('tools/call arguments and failures the client must not see inside', () => {
  let app: TestApp;
  let fake: FakeVerifier;
  useGatewayApp('pglite', (a, f) => ((app = a), (fake = f)));

  async function setUp(email: string) {
    const t = await app.createTenant();
    const user = await createUser(t, email);
    const headers = { authorization: `Bearer ${fake.issue(t, user)}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const post = async (body: string, extra: Record<string, string> = {}) => {
      const r = await fetch(mcpResourceUrl(app.url, t), { method: 'POST', headers: { ...headers, ...extra }, body });
      return { status: r.status, text: await r.text() };
    };
    const callAudits = async () => {
      await app.services.audit.flush();
      return t.db.auditEvent.findMany({ where: { action: 'mcp.tool.call', actorId: user }, orderBy: { seq: 'asc' } });
    };
    return { t, user, post, callAudits };
  }

  const callBody = (name: string, argsJson: string, id = 1) => `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"${name}","arguments":{"x":${argsJson}}}}`;

  it('arguments nesting deeper than the bound are refused with -32602 and audited, for granted and unknown tools alike', async () => {
    const { post, callAudits } = await setUp('deep@example.com');
    const deep = '['.repeat(200_000) + ']'.repeat(200_000); // ~400 kB, under the body limit
    for (const [name, id] of [['whoami', 1], ['not_granted_tool', 2]] as const) {
      const r = await post(callBody(name, deep, id));
      expect(r.status).toBe(200);
      const body = JSON.parse(r.text) as RpcError;
      expect(body.error?.code, r.text.slice(0, 200)).toBe(-32602);
      expect(r.text).not.toMatch(/call stack|RangeError/);
    }
    const rows = await callAudits();
    expect(rows.map((r) => [r.outcome, (r.detail as { error?: string }).error])).toEqual([
      ['failure', 'invalid_arguments'],
      ['denied', 'denied'],
    ]);
    // Just under the bound still runs (the arguments object itself is one level).
    const ok = await post(callBody('whoami', '['.repeat(MAX_ARGUMENT_DEPTH - 2) + ']'.repeat(MAX_ARGUMENT_DEPTH - 2), 3));
    expect((JSON.parse(ok.text) as RpcError).error).toBeUndefined();
  });

  it('invalid params are -32602 Invalid params, on the fast path and through the SDK (a batch)', async () => {
    const { post } = await setUp('params@example.com');
    for (const body of [
      '{"jsonrpc":"2.0","id":7,"method":"tools/call"}',
      '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"whoami","arguments":[]}}',
      '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":42}}',
    ]) {
      for (const sent of [body, `[${body}]`]) {
        const r = await post(sent);
        expect((JSON.parse(r.text) as RpcError).error?.code, `${sent} → ${r.text.slice(0, 200)}`).toBe(-32602);
      }
    }
  });

  it('invalid params of every other method are -32602 too, naming what is wrong without the validator\'s dump', async () => {
    const { post } = await setUp('other-params@example.com');
    for (const [method, params] of [
      ['prompts/get', {}],
      ['prompts/get', { name: 42 }],
      ['resources/read', {}],
      ['resources/read', { uri: 5 }],
      ['resources/subscribe', {}],
      ['completion/complete', { ref: { type: 'ref/prompt' } }],
      ['logging/setLevel', { level: 'loud' }],
      ['tools/list', { cursor: 5 }],
    ] as const) {
      const r = await post(JSON.stringify({ jsonrpc: '2.0', id: 3, method, params }));
      const error = (JSON.parse(r.text) as RpcError).error;
      expect(error?.code, `${method} → ${r.text.slice(0, 200)}`).toBe(-32602);
      expect(error?.message).toMatch(new RegExp(`Invalid params for ${method}: `));
      expect(error?.message, method).not.toMatch(/[[{]/);
    }
    // Valid params still reach the handler: an unknown prompt is the handler's own -32602.
    const known = await post(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'prompts/get', params: { name: 'nope' } }));
    expect((JSON.parse(known.text) as RpcError).error?.message).toMatch(/Unknown prompt/);
  });

  it('an unexpected failure inside a call reaches the client as -32603 "Internal error" with a trace id, never its message', async () => {
    const { post, callAudits } = await setUp('boom@example.com');
    const spy = vi.spyOn(app.services.metrics, 'toolCall').mockImplementation(() => {
      throw new Error('disk exploded at /var/secret/path');
    });
    try {
      for (const sent of [callBody('whoami', '1', 4), `[${callBody('whoami', '1', 5)}]`]) {
        const r = await post(sent, { 'x-request-id': 'trace-mcp-boom' });
        expect(r.text).not.toContain('/var/secret');
        expect(JSON.parse(r.text)).toMatchObject({ error: { code: -32603, message: expect.stringMatching(/Internal error$/), data: { traceId: 'trace-mcp-boom' } } });
      }
    } finally {
      spy.mockRestore();
    }
    // The call was still audited before the failure.
    expect((await callAudits()).length).toBe(2);
  });
});
