import { describe, expect, it } from 'vitest';
import { CallToolRequestSchema, CallToolResultSchema, JSONRPCRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { plainTextResult, plainToolCall } from '../../src/mcp/plain-shapes.js';
import { seededRandom as seeded } from '../support/seeded-random.js';

/**
 * plain-shapes.ts may only take a message or result the SDK's schemas would take AND return unchanged: whatever it
 * recognises is compared here with the schemas' own parse (the fast path's previous code), on hand-picked edge cases
 * and on generated ones. Whatever it does not recognise goes to the schemas, so refusing more is always safe.
 */

/** What fast-path.ts did with the schemas: the request and the call's params, or null when they refuse it. */
function bySchemas(body: unknown) {
  const message = JSONRPCRequestSchema.safeParse(body);
  if (!message.success) return null;
  const call = CallToolRequestSchema.safeParse(message.data);
  return call.success && call.data.params.task === undefined ? { request: message.data, call: call.data.params } : null;
}

function expectSameAsSchemas(body: unknown): boolean {
  const plain = plainToolCall(body);
  if (plain === null) return false;
  const schemas = bySchemas(body);
  expect(schemas, JSON.stringify(body)).not.toBeNull();
  expect(plain.request.id).toBe(schemas!.request.id);
  expect(plain.call).toEqual(schemas!.call);
  // The arguments go upstream and into the audit's size: the same bytes.
  expect(JSON.stringify(plain.call.arguments)).toBe(JSON.stringify(schemas!.call.arguments));
  expect(plain.call._meta?.progressToken).toBe(schemas!.call._meta?.progressToken);
  return true;
}

function expectSameResult(result: unknown): boolean {
  const plain = plainTextResult(result);
  if (plain === null) return false;
  const checked = CallToolResultSchema.safeParse(result);
  expect(checked.success, JSON.stringify(result)).toBe(true);
  // The result is serialised into the response: byte for byte what the schema's output serialises to.
  expect(JSON.stringify(plain)).toBe(JSON.stringify(checked.data));
  return true;
}

const call = (params: unknown, top: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id: 7, method: 'tools/call', params, ...top });

describe('plainToolCall', () => {
  it('takes the calls clients send, as the schemas return them', () => {
    for (const body of [
      call({ name: 'up__echo', arguments: { text: 'hi', n: 1, nested: { a: [1, null] } } }),
      call({ name: 'whoami' }),
      call({ name: 'x', arguments: {}, _meta: { progressToken: 'p-1' } }),
      call({ name: 'x', _meta: { progressToken: 42 } }),
      call({ name: 'x', _meta: {} }),
      { ...call({ name: 'x', arguments: {} }), id: 'req-1' },
      JSON.parse('{"jsonrpc":"2.0","id":-0,"method":"tools/call","params":{"name":"","arguments":{"1":1,"b":2,"a":3}}}'),
    ]) {
      expect(expectSameAsSchemas(body), JSON.stringify(body)).toBe(true);
    }
  });

  it.each([
    ['a batch', [call({ name: 'x' })]],
    ['another method', { jsonrpc: '2.0', id: 1, method: 'tools/list' }],
    ['no id (a notification)', { jsonrpc: '2.0', method: 'tools/call', params: { name: 'x' } }],
    ['a fractional id', call({ name: 'x' }, { id: 1.5 })],
    ['an id beyond safe integers', call({ name: 'x' }, { id: 2 ** 60 })],
    ['a null id', call({ name: 'x' }, { id: null })],
    ['another jsonrpc version', call({ name: 'x' }, { jsonrpc: '1.0' })],
    ['an unknown top-level key (the schema refuses it)', call({ name: 'x' }, { extra: 1 })],
    ['no params', { jsonrpc: '2.0', id: 1, method: 'tools/call' }],
    ['params that are an array', call([{ name: 'x' }])],
    ['no tool name', call({ arguments: {} })],
    ['a tool name that is not a string', call({ name: 5 })],
    ['arguments that are an array', call({ name: 'x', arguments: [1] })],
    ['arguments that are null', call({ name: 'x', arguments: null })],
    ['arguments with a __proto__ key', JSON.parse('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"__proto__":{"polluted":true}}}}')],
    ['a task (the SDK renders task-augmented calls)', call({ name: 'x', task: { ttl: 1000 } })],
    ['an unknown params key (the schema strips it)', call({ name: 'x', cursor: 'c' })],
    ['_meta with another key (kept by the schema)', call({ name: 'x', _meta: { progressToken: 't', traceparent: '00-1' } })],
    ['_meta with a related task (reshaped by the schema)', call({ name: 'x', _meta: { 'io.modelcontextprotocol/related-task': { taskId: 't', extra: 1 } } })],
    ['a fractional progress token', call({ name: 'x', _meta: { progressToken: 0.5 } })],
    ['a null progress token', call({ name: 'x', _meta: { progressToken: null } })],
    ['_meta that is an array', call({ name: 'x', _meta: [] })],
  ])('leaves %s to the schemas', (_label, body) => {
    expect(plainToolCall(body)).toBeNull();
  });

  it('never takes a generated message the schemas would refuse or change', () => {
    const rnd = seeded(17);
    let taken = 0;
    for (let i = 0; i < 20_000; i++) if (expectSameAsSchemas(generatedCall(rnd))) taken++;
    // The generator is centred on plain calls: a fair share of them must be taken, or this test proves nothing.
    expect(taken).toBeGreaterThan(2_000);
  });
});

describe('plainTextResult', () => {
  it('takes text results as SDK upstreams send them, byte for byte as the schema returns them', () => {
    for (const result of [
      { content: [{ type: 'text', text: 'hello' }] },
      { content: [{ type: 'text', text: 'a' }, { type: 'text', text: '' }], isError: false },
      { content: [], isError: true },
      { content: [] },
    ]) {
      expect(expectSameResult(result), JSON.stringify(result)).toBe(true);
    }
  });

  it.each([
    ['isError before content (the schema reorders)', { isError: true, content: [{ type: 'text', text: 'x' }] }],
    ['no content (the schema defaults it)', { isError: false }],
    ['structured content', { content: [], structuredContent: { a: 1 } }],
    ['_meta', { content: [], _meta: { progressToken: 1 } }],
    ['an image block', { content: [{ type: 'image', data: 'AAAA', mimeType: 'image/png' }] }],
    ['a text block with annotations', { content: [{ type: 'text', text: 'x', annotations: { priority: 1 } }] }],
    ['a text block with an unknown key (the schema strips it)', { content: [{ type: 'text', text: 'x', extra: 1 }] }],
    ['a text block in another key order', { content: [{ text: 'x', type: 'text' }] }],
    ['text that is not a string', { content: [{ type: 'text', text: 1 }] }],
    ['isError that is not a boolean', { content: [], isError: 'yes' }],
    ['content that is not an array', { content: { type: 'text', text: 'x' } }],
    ['a null block', { content: [null] }],
  ])('leaves %s to the schema', (_label, result) => {
    expect(plainTextResult(result)).toBeNull();
  });

  it('never takes a generated result the schema would refuse or change', () => {
    const rnd = seeded(29);
    let taken = 0;
    for (let i = 0; i < 20_000; i++) if (expectSameResult(generatedResult(rnd))) taken++;
    expect(taken).toBeGreaterThan(2_000);
  });
});

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const SCALARS = ['x', '', '2.0', 'tools/call', 'text', 0, -1, 1.5, 2 ** 53, true, false, null] as const;

/** Any JSON value, shallow. */
const anyValue = (rnd: () => number): unknown => (rnd() < 0.7 ? pick(rnd, SCALARS) : rnd() < 0.5 ? [pick(rnd, SCALARS)] : { [pick(rnd, ['a', 'type', '__proto__'])]: pick(rnd, SCALARS) });

/** An object from required entries, some dropped, with a chance of a stray key and a shuffled order, parsed from JSON. */
function shaped(rnd: () => number, entries: [string, () => unknown][], strays: string[]): unknown {
  const kept = entries.filter(() => rnd() < 0.9).map(([k, v]) => [k, v()] as [string, unknown]);
  if (rnd() < 0.15) kept.push([pick(rnd, strays), anyValue(rnd)]);
  if (rnd() < 0.2) kept.reverse();
  // Through JSON text, as bodies arrive (a "__proto__" key stays an own key).
  return JSON.parse(`{${kept.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`);
}

function generatedCall(rnd: () => number): unknown {
  const meta = () => shaped(rnd, [['progressToken', () => (rnd() < 0.8 ? pick(rnd, ['p', 3]) : anyValue(rnd))]], ['other', 'io.modelcontextprotocol/related-task']);
  const args = () => (rnd() < 0.85 ? shaped(rnd, [['text', () => anyValue(rnd)], ['n', () => anyValue(rnd)]], ['__proto__', 'deep']) : anyValue(rnd));
  const params = () =>
    rnd() < 0.9 ? shaped(rnd, [['name', () => (rnd() < 0.9 ? 'up__echo' : anyValue(rnd))], ['arguments', args], ['_meta', meta]], ['task', 'cursor', 'extra']) : anyValue(rnd);
  return shaped(
    rnd,
    [
      ['jsonrpc', () => (rnd() < 0.95 ? '2.0' : anyValue(rnd))],
      ['id', () => (rnd() < 0.85 ? pick(rnd, [1, 'a', 0]) : anyValue(rnd))],
      ['method', () => (rnd() < 0.95 ? 'tools/call' : anyValue(rnd))],
      ['params', params],
    ],
    ['extra', 'result', 'error'],
  );
}

function generatedResult(rnd: () => number): unknown {
  const block = () =>
    rnd() < 0.9 ? shaped(rnd, [['type', () => (rnd() < 0.9 ? 'text' : pick(rnd, ['image', 'resource', 1]))], ['text', () => (rnd() < 0.9 ? 'ok' : anyValue(rnd))]], ['annotations', '_meta', 'data']) : anyValue(rnd);
  const content = () => (rnd() < 0.9 ? Array.from({ length: Math.floor(rnd() * 3) }, block) : anyValue(rnd));
  return shaped(rnd, [['content', content], ['isError', () => (rnd() < 0.9 ? rnd() < 0.5 : anyValue(rnd))]], ['structuredContent', '_meta', 'toolResult']);
}
