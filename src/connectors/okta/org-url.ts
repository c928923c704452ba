import { badRequest } from '../../lib/errors.js';

/**
 * An Okta org URL as an admin may give it: an https origin and nothing else. Any https origin is accepted (custom
 * domains, oktapreview.com, a Private Link host, the tests' local fake); http is refused because the API token or
 * client assertion travels on every request, and a path, query, fragment or user-info is refused because the SDK
 * appends `/api/v1/…` and `/oauth2/v1/token` to the string as given.
 */
export function parseOrgUrl(input: string): string {
  const raw = input.trim();
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw badRequest('--org-url must be an absolute https URL, e.g. https://acme.okta.com');
  }
  if (u.protocol !== 'https:') throw badRequest('--org-url must use https');
  if (u.username || u.password) throw badRequest('--org-url must not carry credentials');
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || raw.endsWith('?') || raw.endsWith('#')) {
    throw badRequest('--org-url must be an origin only (https://acme.okta.com), without a path, query or fragment');
  }
  return u.origin;
}
