/**
 * Hostile `return_to` / RelayState / `target_link_uri` values (issue 8 §1): every one must end on the fallback.
 * Families: foreign absolute URLs, protocol-relative, backslashes, dot segments (plain and %2e), percent-encoded
 * slashes and backslashes (single, double, triple, mixed case, mixed with raw ones), characters the WHATWG parser
 * strips (tab, CR, LF), control characters, userinfo, other ports and schemes, fullwidth solidus, malformed escapes,
 * white-space-only segments.
 * `origin` is the deployment's PUBLIC_URL origin the values are judged against.
 */
export function hostileReturnTos(origin: string): string[] {
  const host = new URL(origin).host;
  const evil = 'evil.example';
  return [
    `https://${evil}/x`, `http://${evil}`, `HTTPS://${evil}/`, `https:${evil}`, `https:/${evil}`, `ftp://${evil}/`,
    'javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:x', evil, `${evil}/x`, '',
    `//${evil}/x`, `///${evil}`, `////${evil}`, `//${evil}@${host}`,
    `/\\${evil}`, `\\\\${evil}`, `\\/${evil}`, `/\\/${evil}`, `\\${evil}`, `/\\\\${evil}`,
    `/.//${evil}/x`, `/a/..//${evil}`, `/./\\${evil}`, `/.\\/${evil}`, `/..//${evil}`, `/a/b/../..//${evil}`, `/././/${evil}`,
    `/%2e//${evil}`, `/%2E%2E//${evil}`, `/a/%2e%2e//${evil}`, `/.%2e//${evil}`, `/a/%2e%2e/%2e%2e//${evil}`,
    `/%2F%2F${evil}`, `/%2f/${evil}`, `/%2F${evil}`, `/%5C%5C${evil}`, `/%5c${evil}`, `/%2F%5C${evil}`, `/%5c/${evil}`,
    `/%252F%252F${evil}`, `/%252f/${evil}`, `/%25252F%25252F${evil}`, `/%255C%255C${evil}`, `/%255c${evil}`,
    `/%2e%2e%2f%2f${evil}`, `/%252e%252e/%252e%252e//${evil}`, `/%2525252F${evil}`, `/%25%32%46%25%32%46${evil}`,
    `/t/acme/%2F%2F${evil}`, `/t/acme/..%2F..%2F%2F${evil}`, `/t/acme/%2e%2e%5c%2e%2e%5c${evil}`,
    `/\t/${evil}`, `/\n/${evil}`, `/\r\n/${evil}`, `\t//${evil}`, `/\t\\${evil}`, `/%09/${evil}`, `/%0a/${evil}`, `/%0d%0a/${evil}`,
    '/ok\r\nSet-Cookie: x=y', '/ok%0d%0aSet-Cookie:%20x=y', `/\u0000/${evil}`, '/%00', `/\u007f/${evil}`, `/\u0085/${evil}`,
    `https://${host}@${evil}/`, `https://user:pw@${host}/x`, `${origin.replace('://', '://user@')}/x`, `https://${evil}\\@${host}/`,
    `https://${evil}#@${host}`, `https://${host}.${evil}/`, `${origin}:4444/`, `${origin.replace(/^https?/, (m) => (m === 'https' ? 'http' : 'https'))}/x`,
    `/\uFF0F${evil}`, `/\uFF0F\uFF0F${evil}`, `/\uFF3C${evil}`, `/%EF%BC%8F%EF%BC%8F${evil}`, `/%EF%BC%BC${evil}`,
    '/%E0%A4%A', '/%zz/x', `/${'a'.repeat(3000)}`,
    // White-space-only segments (plain, encoded, double-encoded, no-break and ideographic spaces): one trim away from `//`.
    `/ /${evil}`, `/%20/${evil}`, `/%2520/${evil}`, `/%20%20/${evil}`, `/%C2%A0/${evil}`, `/\u00a0/${evil}`, `/%E3%80%80/${evil}`, `/\u3000/${evil}`, `/\u2003/${evil}`, `/%20\\${evil}`,
  ];
}

/** Prefixes × separators: generated variants; each result must stay on the origin however often it is decoded. */
export function generatedReturnTos(): string[] {
  const prefixes = ['', '/.', '/a/..', '/%2e', '/./.', '/a/b/../..', '/%2E%2E', '/t/acme/..', '/t/acme/%2e%2e'];
  const seps = ['/', '\\', '%2F', '%2f', '%5C', '%5c', '%252F', '%255C', '%25252F', '\uFF0F', '%EF%BC%8F', '/%2F', '\\%5C', '%2F\\'];
  const out: string[] = [];
  for (const p of prefixes) for (const a of seps) for (const b of seps) out.push(`${p}/${a}${b}evil.example/x`, `${p}${a}${b}evil.example`);
  return out;
}
