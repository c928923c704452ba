import { describe, expect, it } from 'vitest';
import { newId, newTimeOrderedId } from '../../src/lib/ids.js';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/** The 128-bit number an id's 26 characters spell (the last character carries 3 bits and 2 zero bits). */
const valueOf = (id: string) => [...id.slice(id.indexOf('_') + 1)].reduce((v, c) => v * 32n + BigInt(ALPHABET.indexOf(c)), 0n) >> 2n;
/** The millisecond time in a time-ordered id's first 48 bits. */
const msOf = (id: string) => Number(valueOf(id) >> 80n);

describe('newId', () => {
  it('gives 128-bit base32 ids with their prefix, never repeating across refills of the random pool', () => {
    const ids = Array.from({ length: 2000 }, () => newId('evt')); // 32,000 random bytes: several pool refills
    for (const id of ids) expect(id).toMatch(/^evt_[0-9a-hjkmnp-tv-z]{26}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // Each id uses its own 16 bytes: no id shares a 10-character run of randomness with the next one.
    for (let i = 1; i < ids.length; i++) expect(ids[i]!.slice(4, 14)).not.toBe(ids[i - 1]!.slice(4, 14));
  });
});

describe('newTimeOrderedId', () => {
  it('has the shape of newId, with the time in its first 48 bits', () => {
    const at = Date.parse('2026-12-07T05:30:00.123Z');
    const id = newTimeOrderedId('evt', at);
    expect(id).toMatch(/^evt_[0-9a-hjkmnp-tv-z]{26}$/);
    expect(msOf(id)).toBe(at);
    // The edges of the 48 bits: nine characters of time, then 3 time bits and 2 random ones.
    expect(newTimeOrderedId('evt', 0)).toMatch(/^evt_0{9}[0-3]/);
    expect(newTimeOrderedId('evt', 2 ** 48 - 1)).toMatch(/^evt_z{9}[w-z]/);
  });

  it('sorts as text in the order of its times, whatever the random part (what a B-tree on it sees)', () => {
    const start = Date.parse('2026-01-01T00:00:00Z');
    // Times close together (the same character but the last one changes) and far apart (the first ones change).
    const times = [0, 1, 2, 31, 32, 33, 1_000, 86_400_000, 86_400_001, 10 * 365 * 86_400_000].map((d) => start + d);
    for (let round = 0; round < 50; round++) {
      const ids = times.map((ms) => newTimeOrderedId('evt', ms));
      expect([...ids].sort()).toEqual(ids);
    }
  });

  it('keeps 80 random bits: ids of the same millisecond differ and do not repeat', () => {
    const at = Date.parse('2026-12-07T05:30:00Z');
    const ids = Array.from({ length: 5000 }, () => newTimeOrderedId('evt', at));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => msOf(id) === at)).toBe(true);
    // The random part is not a counter: consecutive ids share no 8-character run after the time.
    for (let i = 1; i < ids.length; i++) expect(ids[i]!.slice(14, 22)).not.toBe(ids[i - 1]!.slice(14, 22));
  });

  it('refuses a time it cannot hold instead of wrapping it into a wrong order', () => {
    for (const ms of [-1, 2 ** 48, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => newTimeOrderedId('evt', ms)).toThrow(RangeError);
  });
});
