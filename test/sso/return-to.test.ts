import { describe, expect, it } from 'vitest';
import { safeReturnTo } from '../../src/sso/return-to.js';
import { generatedReturnTos, hostileReturnTos } from './support/redirect-variants.js';

const origin = 'https://sso.example.com';
const F = '/fallback';

/** What a browser, then any proxy or router that percent-decodes again, would make of a Location header. */
function staysOnOrigin(location: string): boolean {
  if (new URL(location, origin).origin !== origin) return false;
  let decoded = location;
  for (let i = 0; i < 5; i++) decoded = decodeURIComponent(decoded);
  decoded = decoded.normalize('NFKC');
  return !/^[/\\]{2}|^\/[/\\]|^\\/.test(decoded) && new URL(decoded, origin).origin === origin;
}

describe('safeReturnTo (issue 8 §1: resolve, then compare origins, emit a normalised path)', () => {
  it.each(hostileReturnTos(origin).map((v) => [JSON.stringify(v).slice(0, 80), v]))('refuses %s', (_label, value) => {
    expect(safeReturnTo(value, F, origin)).toBe(F);
    expect(safeReturnTo(value, F)).toBe(F);
  });

  it('refuses what is not a string', () => {
    for (const v of [undefined, null, 42, ['/x'], { toString: () => '/x' }]) expect(safeReturnTo(v, F, origin)).toBe(F);
  });

  it('every generated prefix × separator variant ends on the fallback or on a path that cannot leave the origin', () => {
    const variants = generatedReturnTos();
    expect(variants.length).toBeGreaterThan(1000);
    let refused = 0;
    for (const v of variants) {
      const out = safeReturnTo(v, F, origin);
      if (out === F) refused++;
      else expect([v, staysOnOrigin(out)]).toEqual([v, true]);
    }
    // The family is mostly hostile: nearly all are refused, the rest are harmless same-origin paths.
    expect(refused).toBeGreaterThan(variants.length * 0.8);
  });

  it('keeps same-origin paths, normalised (dot segments resolved, spaces encoded), with query and fragment', () => {
    expect(safeReturnTo('/t/acme/login', F, origin)).toBe('/t/acme/login');
    expect(safeReturnTo('/t/acme/oauth/interaction/abc?x=1&y=%2F%2Fevil.example', F, origin)).toBe('/t/acme/oauth/interaction/abc?x=1&y=%2F%2Fevil.example');
    expect(safeReturnTo('/t/acme/../../etc', F, origin)).toBe('/etc');
    expect(safeReturnTo('/t/acme/./x/%2e/y', F, origin)).toBe('/t/acme/x/y');
    expect(safeReturnTo('/t/acme/a b', F, origin)).toBe('/t/acme/a%20b');
    expect(safeReturnTo('/t/acme/x#//evil.example', F, origin)).toBe('/t/acme/x#//evil.example');
    expect(safeReturnTo('/', F, origin)).toBe('/');
  });

  it('accepts an absolute URL only on the given origin (target_link_uri), emitting only its path', () => {
    expect(safeReturnTo(`${origin}/t/acme/x?y=1#z`, F, origin)).toBe('/t/acme/x?y=1#z');
    expect(safeReturnTo('HTTPS://SSO.EXAMPLE.COM/t/acme', F, origin)).toBe('/t/acme');
    expect(safeReturnTo(`${origin}:443/t/acme`, F, origin)).toBe('/t/acme');
    expect(safeReturnTo(`${origin}/.//evil.example`, F, origin)).toBe(F);
    // Without an origin nothing absolute is trusted.
    expect(safeReturnTo(`${origin}/t/acme`, F)).toBe(F);
  });

  // Boundaries of each guard on its own (issue 18, mutation testing).
  it('refuses a value longer than 2048 characters; 2048 itself is fine', () => {
    const at = (n: number) => `/t/acme/${'a'.repeat(n - 8)}`;
    expect(safeReturnTo(at(2048), F, origin)).toBe(at(2048));
    expect(safeReturnTo(at(2049), F, origin)).toBe(F);
  });

  it('keeps relative paths without an origin (resolved against no host at all)', () => {
    expect(safeReturnTo('/t/acme/x?y=1#z', F)).toBe('/t/acme/x?y=1#z');
    expect(safeReturnTo('/t/acme/../x', F)).toBe('/t/x');
  });

  it('treats a value as absolute only when it starts with the scheme, and accepts http origins too', () => {
    expect(safeReturnTo('dashboard?next=https://sso.example.com/x', F, origin)).toBe(F);
    expect(safeReturnTo('t/acme', F, origin)).toBe(F);
    expect(safeReturnTo('http://localhost:3000/t/acme', F, 'http://localhost:3000')).toBe('/t/acme');
  });

  it('decodes each segment exactly four times: a fifth level of encoding, or a malformed escape underneath, is refused', () => {
    const encode = (s: string, times: number): string => (times === 0 ? s : encode(s.replaceAll('%', '%25'), times - 1));
    expect(safeReturnTo(`/t/${encode('%41', 3)}`, F, origin)).toBe(`/t/${encode('%41', 3)}`); // 'A' encoded four times
    expect(safeReturnTo(`/t/${encode('%41', 4)}`, F, origin)).toBe(F); // five times
    expect(safeReturnTo(`/t/${encode('%4g', 4)}`, F, origin)).toBe(F);
    expect(safeReturnTo(`/t/${encode('%2F', 3)}x`, F, origin)).toBe(F);
  });

  it('refuses a single-dot segment hidden under encoding', () => {
    expect(safeReturnTo('/t/%252e/x', F, origin)).toBe(F);
    expect(safeReturnTo('/t/%252e%252e/x', F, origin)).toBe(F);
    expect(safeReturnTo('/t/%252ex/x', F, origin)).toBe('/t/%252ex/x');
  });
});
