import { routeOfPath } from './catalog-urls.js';

export interface UrlResult {
  url: string;
  method?: string;
  status?: number;
  ok: boolean;
  problem?: string;
}

/**
 * Catalog URLs carry the tenant in each catalog's syntax (`${org.tenant}`, `{app.tenant}`, `' + app.tenant + '`,
 * Entra's `<tenant>`, the guides' `{slug}`): all become one real tenant slug so the URL can be requested.
 */
export function concretize(text: string, slug: string): string {
  return text
    .replace(/'([^'\s]*)' \+ app\.[a-z][a-z0-9_]* \+ '([^'\s]*)'/g, `$1${slug}$2`)
    .replace(/\$\{org\.[a-z][a-z0-9_]*\}/g, slug)
    .replace(/\{app\.[a-z][a-z0-9_]*\}/g, slug)
    .replace(/<tenant>|\{slug\}/g, slug);
}

const URL_IN_TEXT = /https?:\/\/[^\s)`'"\]<>,]+/g;

/** The distinct URLs of generated files (JSON or Markdown), with tenant variables resolved to `slug`. */
export function urlsIn(texts: string[], slug: string): string[] {
  const found = new Set<string>();
  for (const t of texts) for (const u of concretize(t, slug).match(URL_IN_TEXT) ?? []) found.add(u.replace(/[.:;]+$/, ''));
  return [...found].sort();
}

/**
 * Requests every URL of the deployment (`base`…) on `target` (the running server) with the route's method. A URL
 * outside the contract's routes fails; so does one the server does not answer: the generic 404 of an unknown path
 * (`{"error":"not_found"}`, also what an unknown tenant gets), 405 or a 5xx. A route's own answer counts as answered,
 * whatever it is (401 without a SCIM token, 400 for a callback without state, the SSO error page of a tenant without
 * a connection, 503 "sign-in unavailable"). URLs elsewhere (publisher pages) are listed as external, not requested.
 */
export async function checkUrls(urls: string[], base: string, target: string): Promise<{ checked: UrlResult[]; external: string[] }> {
  const checked: UrlResult[] = [];
  const external: string[] = [];
  for (const url of urls) {
    if (url !== base && !url.startsWith(`${base}/`)) {
      external.push(url);
      continue;
    }
    const u = new URL(url);
    const route = routeOfPath(u.pathname);
    if (!route || u.search || u.hash) {
      checked.push({ url, ok: false, problem: 'not a URL of the contract (README / contract.md routes)' });
      continue;
    }
    const { method } = route.spec;
    const probe = 'probe' in route.spec && !route.subPath ? route.spec.probe : '';
    let res: Response;
    try {
      res = await fetch(`${target}${u.pathname}${probe}`, { method, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      checked.push({ url, method, ok: false, problem: `no answer: ${(err as Error).message}` });
      continue;
    }
    const body = await res.text();
    const genericNotFound = res.status === 404 && /^\{"error":"not_found"/.test(body);
    // 503 is the page a tenant route renders when the tenant has nothing configured yet (e.g. the login chooser
    // without a connection); any other 5xx, or a 503 that is not one of our pages (a proxy), is no answer.
    const ourUnavailablePage = res.status === 503 && (res.headers.get('content-type') ?? '').startsWith('text/html');
    const ok = !genericNotFound && res.status !== 405 && (res.status < 500 || ourUnavailablePage);
    checked.push({ url, method, status: res.status, ok, ...(!ok && { problem: genericNotFound ? 'the server has no such route (or tenant)' : `answered ${res.status}` }) });
  }
  return { checked, external };
}
