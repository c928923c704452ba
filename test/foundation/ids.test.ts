import { describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';

describe('newId', () => {
  it('gives 128-bit base32 ids with their prefix, never repeating across refills of the random pool', () => {
    const ids = Array.from({ length: 2000 }, () => newId('evt')); // 32,000 random bytes: several pool refills
    for (const id of ids) expect(id).toMatch(/^evt_[0-9a-hjkmnp-tv-z]{26}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // Each id uses its own 16 bytes: no id shares a 10-character run of randomness with the next one.
    for (let i = 1; i < ids.length; i++) expect(ids[i]!.slice(4, 14)).not.toBe(ids[i - 1]!.slice(4, 14));
  });
});
