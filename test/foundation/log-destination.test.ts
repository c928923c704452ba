import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { BufferedLogDestination, LOG_FLUSH_BYTES, LOG_FLUSH_MS } from '../../src/lib/log-destination.js';

function harness() {
  const writes: string[] = [];
  const timers: { fn: () => void; ms: number; unrefed: boolean }[] = [];
  const dest = new BufferedLogDestination(
    1,
    (_fd, data) => void writes.push(data),
    (fn, ms) => {
      const timer = { fn, ms, unrefed: false };
      timers.push(timer);
      return { unref: () => (timer.unrefed = true) };
    },
  );
  return { dest, writes, timers };
}

describe('buffered log destination', () => {
  it('writes the lines of a burst with one write, within the flush interval, on a timer that never holds the process', () => {
    const { dest, writes, timers } = harness();
    const logger = pino({ base: null, timestamp: false }, dest);
    logger.info('one');
    logger.error('two');
    expect(writes).toEqual([]);
    expect(timers).toHaveLength(1);
    expect(timers[0]).toMatchObject({ ms: LOG_FLUSH_MS, unrefed: true });
    timers[0]!.fn();
    expect(writes).toHaveLength(1);
    expect(writes[0]!.trim().split('\n').map((l) => JSON.parse(l).msg)).toEqual(['one', 'two']);
  });

  it('writes at once when the buffer reaches its size bound, and keeps nothing behind', () => {
    const { dest, writes } = harness();
    const line = `${'x'.repeat(1023)}\n`;
    for (let i = 0; i < LOG_FLUSH_BYTES / 1024; i++) dest.write(line);
    expect(writes).toHaveLength(1);
    expect(writes[0]!.length).toBe(LOG_FLUSH_BYTES);
    dest.flush();
    expect(writes).toHaveLength(1);
  });

  it('flush() (the exit hook) writes what is pending; a failing write never throws into the caller', () => {
    const failing = new BufferedLogDestination(1, () => {
      throw Object.assign(new Error('broken pipe'), { code: 'EPIPE' });
    }, () => ({ unref: () => undefined }));
    failing.write('line\n');
    expect(() => failing.flush()).not.toThrow();
    const { dest, writes } = harness();
    dest.write('last words\n');
    dest.flush();
    expect(writes).toEqual(['last words\n']);
  });
});
