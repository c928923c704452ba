import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { isoTime, isoTimestamp } from '../../src/lib/logger.js';

describe('isoTime (the log lines\' timestamp)', () => {
  it("writes exactly pino's isoTime, across milliseconds, second, day and year boundaries, in any order", () => {
    const base = Date.UTC(2026, 11, 31, 23, 59, 59, 0);
    const times = [base, base + 5, base + 42, base + 999, base + 1000, base + 1001, base - 1, 0, 999, -1, -1001, Date.UTC(10000, 0, 1, 0, 0, 0, 7), base + 3];
    for (const t of times) expect(isoTime(t)).toBe(`,"time":"${new Date(t).toISOString()}"`);
    expect(isoTime()).toMatch(/^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
    expect(isoTime().slice(0, 17)).toBe(pino.stdTimeFunctions.isoTime().slice(0, 17));
  });
});

describe('isoTimestamp (audit rows\' createdAt)', () => {
  it('is exactly Date#toISOString, across milliseconds, second, day and year boundaries, in any order', () => {
    const base = Date.UTC(2026, 11, 31, 23, 59, 59, 0);
    const times = [base, base + 5, base + 42, base + 999, base + 1000, base + 1001, base - 1, 0, 999, -1, -1001, Date.UTC(10000, 0, 1, 0, 0, 0, 7), base + 3, base + 1000];
    for (const t of times) expect(isoTimestamp(t)).toBe(new Date(t).toISOString());
  });
});
