const MAX_DECODE_ROUNDS = 4;

/**
 * Where a login may send the browser back to (`return_to`, SAML RelayState, OIDC `target_link_uri`), as a normalised
 * path on `origin` (PUBLIC_URL's origin), or `fallback`. An open redirect (RFC 9700 §4.11.1, OWASP "Unvalidated
 * Redirects") must be impossible whatever the encoding, so the value is first *resolved* the way a browser would
 * (WHATWG URL: dot segments, `\` as `/`, tabs and newlines removed), then:
 * - the result must be on `origin` (without `origin`, only a relative reference starting with `/` can be);
 * - only its path, query and fragment are emitted, never scheme, host or userinfo;
 * - the path may not start with `//` (a protocol-relative Location), and no path segment — percent-decoded up to
 *   four times and NFKC-normalised, so `%2F`, `%5C`, `%252F`, fullwidth `／` count — may hold a slash, backslash,
 *   control character, be only white space, or be a dot segment; a proxy or router that decodes once more must not
 *   find a way out either.
 * Control characters in the raw value are refused outright (they are how header injection and parser stripping start).
 */
export function safeReturnTo(value: unknown, fallback: string, origin?: string): string {
  // (The empty string needs no test of its own: it neither starts with `/` nor is absolute.)
  if (typeof value !== 'string' || value.length > 2048) return fallback;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what we refuse
  if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) return fallback;
  const absolute = /^https?:\/\//i.test(value);
  if (!value.startsWith('/') && !(absolute && origin)) return fallback;
  // Without an origin, resolve against a host that cannot exist (RFC 6761 .invalid): only relative references stay on it.
  const base = origin ? new URL(origin).origin : 'https://return-to.invalid';
  let resolved: URL;
  try {
    resolved = new URL(value, base);
  } catch {
    return fallback;
  }
  if (resolved.origin !== base || resolved.username || resolved.password) return fallback;
  const path = resolved.pathname;
  if (path.startsWith('//') || !path.split('/').every(safeSegment)) return fallback;
  return path + resolved.search + resolved.hash;
}

function safeSegment(segment: string): boolean {
  // Always four rounds: decoding a string without escapes is the identity, so no early exit is needed.
  let decoded = segment;
  for (let round = 0; round < MAX_DECODE_ROUNDS; round++) {
    try {
      decoded = decodeURIComponent(decoded);
    } catch {
      return false; // malformed escapes: some decoder downstream would guess
    }
  }
  // Still holding a `%` after four rounds: encoded five times or more, or a malformed escape the next decoder meets.
  if (decoded.includes('%')) return false;
  const normalised = decoded.normalize('NFKC');
  // eslint-disable-next-line no-control-regex -- see above
  if (/[/\\\u0000-\u001f\u007f-\u009f]/.test(normalised)) return false;
  // A segment of only (Unicode) white space: `/%20/host`, `/%C2%A0/host` are harmless to a browser, but a component
  // that trims or collapses white space after us would see `//host`.
  if (/^\s+$/u.test(normalised)) return false;
  return normalised !== '.' && normalised !== '..';
}
