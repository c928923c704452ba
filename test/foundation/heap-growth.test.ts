import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { boundHeapGrowth, HEAP_GROWING_PERCENT } from '../../src/http/heap-growth.js';

describe('heap growth bound of a serving node (issue 17 §3)', () => {
  it('uses 20 % unless the operator overrides it with a plain percentage', () => {
    expect(boundHeapGrowth({})).toBe(HEAP_GROWING_PERCENT);
    expect(boundHeapGrowth({ SSO_BRIDGE_V8_HEAP_GROWING_PERCENT: '50' })).toBe(50);
    expect(boundHeapGrowth({ SSO_BRIDGE_V8_HEAP_GROWING_PERCENT: '0' })).toBe(0);
    for (const junk of ['', '-5', '20 --expose-gc', '1e3', '1000', 'abc']) {
      // Anything else falls back to the default: the value is pasted into a V8 flag string, never more than a number.
      expect(boundHeapGrowth({ SSO_BRIDGE_V8_HEAP_GROWING_PERCENT: junk })).toBe(HEAP_GROWING_PERCENT);
    }
    boundHeapGrowth({});
  });

  it('is applied by the server entry before anything else (serve() calls it first)', () => {
    const src = execFileSync('sed', ['-n', '/export async function serve/,/^}/p', 'src/server.ts'], { encoding: 'utf8' });
    expect(src.split('\n')[1]?.trim()).toBe('boundHeapGrowth();');
  });
});
