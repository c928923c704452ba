import { describe, expect, it } from 'vitest';
import type { Json } from '../../src/scim/canonicalize.js';
import { changedAttributeNames, sameJson } from '../../src/scim/diff-attributes.js';
import { seededRandom as rng } from '../support/seeded-random.js';

/** The previous definition of sameJson: equal iff the key-sorted serialisations are equal (missing = null). */
function stable(v: Json | undefined): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

describe('sameJson compares JSON documents ignoring key order', () => {
  it('agrees with the key-sorted serialisation on 5,000 generated pairs (reordered, equal and mutated)', () => {
    const r = rng(42);
    const pick = <T,>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
    const value = (depth: number): Json => {
      const kind = depth > 2 ? pick(['s', 'n', 'b', 'z']) : pick(['s', 'n', 'b', 'z', 'a', 'o', 'o']);
      if (kind === 's') return pick(['', 'a', 'A', '1', 'work', 'null', '[]']);
      if (kind === 'n') return pick([0, 1, -1, 1.5, 10]);
      if (kind === 'b') return r() < 0.5;
      if (kind === 'z') return null;
      if (kind === 'a') return Array.from({ length: Math.floor(r() * 3) }, () => value(depth + 1));
      const o: Record<string, Json> = {};
      for (const k of ['value', 'type', 'primary', 'display'].filter(() => r() < 0.5)) o[k] = value(depth + 1);
      return o;
    };
    const reordered = (v: Json): Json => {
      if (Array.isArray(v)) return v.map(reordered);
      if (typeof v !== 'object' || v === null) return v;
      const keys = Object.keys(v).reverse();
      return Object.fromEntries(keys.map((k) => [k, reordered(v[k]!)]));
    };
    const mutated = (v: Json): Json => (r() < 0.5 ? value(0) : Array.isArray(v) ? [...v, null] : typeof v === 'object' && v !== null ? { ...v, extra: 1 } : value(1));
    let equal = 0;
    for (let i = 0; i < 5000; i++) {
      const a = value(0);
      const b = pick([() => reordered(a), () => mutated(a), () => value(0)])();
      const expected = stable(a) === stable(b);
      if (expected) equal++;
      expect(sameJson(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(expected);
      expect(sameJson(b, a)).toBe(expected);
    }
    expect(equal).toBeGreaterThan(1000); // the generator really produced equal pairs, not only different ones
  });

  it('treats a missing value as null, and never confuses an array, an object and a string', () => {
    expect(sameJson(undefined, null)).toBe(true);
    expect(sameJson({ a: null }, {})).toBe(false);
    expect(sameJson([], {})).toBe(false);
    expect(sameJson(['a'], '["a"]')).toBe(false);
    expect(sameJson({ a: 1, b: [1, { c: 'x', d: true }] }, { b: [1, { d: true, c: 'x' }], a: 1 })).toBe(true);
    expect(sameJson([1, 2], [2, 1])).toBe(false);
  });

  it('names what changed, extension attributes by urn:attr', () => {
    const ext = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
    const before = { userName: 'a', emails: [{ value: 'a@x', type: 'work' }], [ext]: { department: 'R&D', costCenter: '1' } };
    const after = { userName: 'a', emails: [{ type: 'work', value: 'a@x' }], [ext]: { department: 'Bench', costCenter: '1' }, title: 'Eng' };
    expect(changedAttributeNames(before, after)).toEqual(['title', `${ext}:department`]);
  });
});
