import { describe, expect, it } from 'vitest';
import { parseHeaderArgs } from '../../src/tools/upstream-headers.js';
import { cancelledRequestIds, callKey, InFlightCalls } from '../../src/mcp/in-flight-calls.js';

describe('upstream --header parsing', () => {
  it('accepts "Name: value" pairs, repeated flags and one per line from --header-file', () => {
    expect(parseHeaderArgs(['Authorization: Bearer abc:def', 'X-Team:  sales '])).toEqual({ Authorization: 'Bearer abc:def', 'X-Team': 'sales' });
    expect(parseHeaderArgs(['X-A: 1\nX-B: 2\r\n\n'])).toEqual({ 'X-A': '1', 'X-B': '2' });
  });

  it('refuses malformed names, headers the gateway owns, and control characters', () => {
    expect(() => parseHeaderArgs(['no colon'])).toThrow(/Name: value/);
    expect(() => parseHeaderArgs(['Bad Name: x'])).toThrow(/Name: value/);
    expect(() => parseHeaderArgs(['Mcp-Session-Id: stolen'])).toThrow(/set by the gateway/);
    expect(() => parseHeaderArgs(['Host: evil.example'])).toThrow(/set by the gateway/);
    expect(() => parseHeaderArgs(['X-A: a\0b'])).toThrow(/control characters/);
  });
});

describe('cancellation routing', () => {
  it('finds cancelled request ids in single messages and batches, ignoring everything else', () => {
    expect(cancelledRequestIds({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 3 } })).toEqual([3]);
    expect(
      cancelledRequestIds([
        { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'a' } },
        { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: { evil: true } } },
      ]),
    ).toEqual(['a']);
    expect(cancelledRequestIds(undefined)).toEqual([]);
  });

  it("aborts only the caller's own call: the key names tenant, user, client and session", () => {
    const calls = new InFlightCalls();
    const mine = calls.track(callKey({ id: 'ten_1' }, { userId: 'u1', clientId: 'c1' }, 's1', 7), new AbortController().signal);
    expect(calls.cancel(callKey({ id: 'ten_1' }, { userId: 'u2', clientId: 'c1' }, 's1', 7))).toBe(false);
    expect(calls.cancel(callKey({ id: 'ten_1' }, { userId: 'u1', clientId: 'c2' }, 's1', 7))).toBe(false);
    expect(mine.signal.aborted).toBe(false);
    expect(calls.cancel(callKey({ id: 'ten_1' }, { userId: 'u1', clientId: 'c1' }, 's1', 7))).toBe(true);
    expect(mine.signal.aborted).toBe(true);
    mine.done();
    expect(calls.cancel(callKey({ id: 'ten_1' }, { userId: 'u1', clientId: 'c1' }, 's1', 7))).toBe(false);
  });
});
