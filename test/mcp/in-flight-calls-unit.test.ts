import { describe, expect, it } from 'vitest';
import { InFlightCalls } from '../../src/mcp/in-flight-calls.js';

describe('InFlightCalls (cancellation of running tools/call by key)', () => {
  it("a call's signal aborts with its transport's and on cancel(key); done() unregisters it and stops listening", () => {
    const calls = new InFlightCalls();
    const transport = new AbortController();
    const a = calls.track('k1', transport.signal);
    expect(a.signal.aborted).toBe(false);
    transport.abort();
    expect(a.signal.aborted).toBe(true);
    a.done();
    expect(calls.cancel('k1')).toBe(false);

    const b = calls.track('k2', new AbortController().signal);
    expect(calls.cancel('k2')).toBe(true);
    expect(b.signal.aborted).toBe(true);

    const later = new AbortController();
    const c = calls.track('k3', later.signal);
    c.done();
    later.abort(); // after done the transport's abort no longer reaches the call
    expect(c.signal.aborted).toBe(false);
    expect(calls.cancel('k3')).toBe(false);
  });

  it('done() of a call leaves a newer call with the same key registered; one transport serves several calls', () => {
    const calls = new InFlightCalls();
    const transport = new AbortController();
    const first = calls.track('same', transport.signal);
    const second = calls.track('same', transport.signal);
    first.done();
    expect(calls.cancel('same')).toBe(true);
    expect(second.signal.aborted).toBe(true);
    expect(first.signal.aborted).toBe(false);
    const third = calls.track('other', transport.signal);
    transport.abort();
    expect(third.signal.aborted).toBe(true);
    expect(first.signal.aborted).toBe(false); // it stopped listening at done()
  });
});
