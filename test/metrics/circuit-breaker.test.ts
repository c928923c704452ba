import { describe, expect, it } from 'vitest';
import { CircuitBreakers, CircuitOpenError } from '../../src/lib/circuit-breaker.js';
import { ManualClock } from '../../src/lib/clock.js';

const fail = () => Promise.reject(new Error('down'));
const ok = () => Promise.resolve('ok');

describe('CircuitBreakers', () => {
  it('opens after N consecutive failures, fails fast while open, lets one probe through after openMs', async () => {
    const clock = new ManualClock();
    const opened: string[] = [];
    const b = new CircuitBreakers(clock, { failures: 3, openMs: 10_000 }, (k) => opened.push(k));
    for (let i = 0; i < 3; i++) await expect(b.run('a', fail)).rejects.toThrow('down');
    expect(opened).toEqual(['a']);
    let calls = 0;
    const counted = () => (calls++, ok());
    await expect(b.run('a', counted)).rejects.toBeInstanceOf(CircuitOpenError);
    await expect(b.run('a', counted)).rejects.toThrow(/retrying in 10 s/);
    expect(calls).toBe(0);
    expect(b.openCount).toBe(1);
    // Other keys are unaffected.
    expect(await b.run('b', ok)).toBe('ok');
    clock.advance(10_000);
    // Half-open: one probe at a time; a concurrent call still fails fast.
    let release!: () => void;
    const probe = b.run('a', () => new Promise<string>((r) => (release = () => r('back'))));
    await expect(b.run('a', counted)).rejects.toBeInstanceOf(CircuitOpenError);
    release();
    expect(await probe).toBe('back');
    expect(b.openCount).toBe(0);
    expect(await b.run('a', counted)).toBe('ok');
    expect(calls).toBe(1);
  });

  it('a failed probe opens the circuit again for openMs; a success in between resets the count', async () => {
    const clock = new ManualClock();
    const b = new CircuitBreakers(clock, { failures: 2, openMs: 5_000 });
    await expect(b.run('x', fail)).rejects.toThrow();
    expect(await b.run('x', ok)).toBe('ok');
    await expect(b.run('x', fail)).rejects.toThrow('down'); // 1 again, not 2
    expect(b.isOpen('x')).toBe(false);
    await expect(b.run('x', fail)).rejects.toThrow('down');
    expect(b.isOpen('x')).toBe(true);
    clock.advance(5_000);
    await expect(b.run('x', fail)).rejects.toThrow('down'); // the probe
    expect(b.isOpen('x')).toBe(true);
    clock.advance(4_999);
    await expect(b.run('x', ok)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('errors the caller says are not failures (its own cancellation, a JSON-RPC error) never open it', async () => {
    const b = new CircuitBreakers(new ManualClock(), { failures: 1, openMs: 1_000 });
    for (let i = 0; i < 5; i++) await expect(b.run('y', fail, () => false)).rejects.toThrow('down');
    expect(b.isOpen('y')).toBe(false);
    expect(await b.run('y', ok)).toBe('ok');
  });
});
