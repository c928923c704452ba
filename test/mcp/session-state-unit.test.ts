import { describe, expect, it } from 'vitest';
import type { BusSignal } from '../../src/revocation/event-bus.js';
import { LogLevels } from '../../src/mcp/log-levels.js';
import { PendingElicitations } from '../../src/mcp/pending-elicitations.js';

/** A bus that only delivers what the test sends. */
function fakeBus() {
  const listeners: ((e: BusSignal) => void)[] = [];
  return {
    subscribe: (l: (e: BusSignal) => void) => {
      listeners.push(l);
      return () => undefined;
    },
    send: (e: BusSignal) => listeners.forEach((l) => l(e)),
  };
}

describe('PendingElicitations (per-session connect elicitations, from the bus)', () => {
  it('is per (tenant, user, upstream, session), taken once, forgotten after its TTL and on deprovisioning', () => {
    const bus = fakeBus();
    let now = 0;
    const p = new PendingElicitations(bus, () => now);
    const pending = (userId: string, sessionId: string, elicitationId: string) =>
      bus.send({ type: 'mcp.elicitation.pending', tenantId: 't1', userId, upstreamId: 'up', sessionId, elicitationId });
    pending('u1', 's1', 'e1');
    pending('u1', 's1', 'e2');
    pending('u2', 's2', 'e3');
    expect(p.has('t1', 'u1', 'up', 's1')).toBe(true);
    expect(p.has('t2', 'u1', 'up', 's1')).toBe(false); // another tenant
    expect(p.has('t1', 'u1', 'up', 's2')).toBe(false); // another session of the user
    expect(p.has('t1', 'u1', 'other', 's1')).toBe(false); // another upstream
    expect(p.take('t1', 'u1', 'up', 's1')).toEqual(['e1', 'e2']);
    expect(p.take('t1', 'u1', 'up', 's1')).toEqual([]);
    now = 16 * 60_000;
    expect(p.has('t1', 'u2', 'up', 's2')).toBe(false); // expired
    pending('u2', 's2', 'e4');
    pending('u22', 's2', 'e5');
    bus.send({ type: 'user.revoked', tenantId: 't1', userId: 'u2' });
    expect(p.has('t1', 'u2', 'up', 's2')).toBe(false);
    expect(p.take('t1', 'u22', 'up', 's2')).toEqual(['e5']); // a user id that merely starts the same is untouched
  });
});

describe('LogLevels (logging/setLevel per session, from the bus)', () => {
  it('passes messages at or above the session level; other sessions, tenants and unknown levels are untouched', () => {
    const bus = fakeBus();
    const levels = new LogLevels(bus);
    expect(levels.passes('t1', 's1', 'debug')).toBe(true); // no level set: everything
    bus.send({ type: 'mcp.log-level', tenantId: 't1', sessionId: 's1', level: 'warning' });
    expect(['debug', 'info', 'notice', 'warning', 'error', 'emergency'].filter((l) => levels.passes('t1', 's1', l))).toEqual(['warning', 'error', 'emergency']);
    expect(levels.passes('t1', 's2', 'debug')).toBe(true);
    expect(levels.passes('t2', 's1', 'debug')).toBe(true);
    expect(levels.passes('t1', undefined, 'debug')).toBe(true);
    expect(levels.passes('t1', 's1', 'shouting')).toBe(true);
    bus.send({ type: 'mcp.log-level', tenantId: 't1', sessionId: 's1', level: 'bogus' }); // ignored, level kept
    expect(levels.passes('t1', 's1', 'info')).toBe(false);
  });
});
