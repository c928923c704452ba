import { describe, expect, it } from 'vitest';
import { redactDetail } from '../../src/audit/redact.js';

describe('redactDetail (audit details: small, never secrets)', () => {
  it('redacts secret-named keys at any depth, keeps the rest as it was', () => {
    const detail = { tool: 'up__echo', durationMs: 1.5, ok: true, none: null, nested: { clientSecret: 'x', Authorization: 'Bearer y', keep: [1, 'a'] } };
    expect(redactDetail(detail)).toEqual({ tool: 'up__echo', durationMs: 1.5, ok: true, none: null, nested: { clientSecret: '[redacted]', Authorization: '[redacted]', keep: [1, 'a'] } });
  });

  it('cuts long strings, drops NUL (PostgreSQL refuses it), flattens deep structures', () => {
    expect(redactDetail('a\0b')).toBe('ab');
    expect(redactDetail('z'.repeat(600))).toBe(`${'z'.repeat(512)}…`);
    expect(redactDetail({ a: { b: { c: { d: { e: 1 } } } } })).toEqual({ a: { b: { c: { d: '[…]' } } } });
    expect(redactDetail({ n: 10n })).toEqual({ n: '10' });
  });

  it('keeps a "__proto__" key as an own key of the copy, never as its prototype', () => {
    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "tool": "t"}') as Record<string, unknown>;
    const out = redactDetail(hostile) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect((out as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.keys(out)).toEqual(['__proto__', 'tool']);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"polluted":true},"tool":"t"}');
  });
});
