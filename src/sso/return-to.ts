/**
 * Where a login may send the browser back to. Only a same-origin relative path is accepted, so `return_to`,
 * RelayState and `target_link_uri` can never become an open redirect (OWASP "Unvalidated Redirects").
 * Refused: absolute URLs, scheme-relative `//host`, backslash tricks (`/\host`, browsers treat `\` as `/`),
 * control characters, and anything that does not start with a single `/`.
 */
export function safeReturnTo(value: unknown, fallback: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return fallback;
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return fallback;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what we refuse
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return fallback;
  // Resolve against a dummy origin: if the result leaves that origin the input was not a plain path.
  try {
    const resolved = new URL(value, 'https://return-to.invalid');
    if (resolved.origin !== 'https://return-to.invalid') return fallback;
    return resolved.pathname + resolved.search + resolved.hash;
  } catch {
    return fallback;
  }
}
