import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isEgressRefusal } from '../../http/egress.js';
import { badRequest } from '../../lib/errors.js';
import { readBoundedText } from '../../lib/read-bounded-body.js';

const MAX_BYTES = 1_000_000;
/** Redirects followed by hand (Fetch would follow an https → http one), each hop checked like the first URL. */
const MAX_REDIRECTS = 5;

/**
 * Downloads IdP metadata with a timeout and a size cap (metadata is tens of kilobytes; more is abuse). In production
 * only https — for the URL given and for every redirect hop: the metadata carries the certificates we trust, so a
 * plain-http fetch (or an https URL redirecting to http) would let anyone on the path choose them. http stays
 * possible in development and tests (local fake IdPs). `fetch` is the egress policy's (src/http/egress.ts): the URL is a
 * tenant admin's choice, so neither it nor a redirect reaches a private, loopback or link-local address.
 */
export async function fetchMetadata(url: string, o: { allowHttp: boolean; fetch: FetchLike }): Promise<string> {
  const allowed = (u: URL) => u.protocol === 'https:' || (o.allowHttp && u.protocol === 'http:');
  let current = new URL(url);
  if (!allowed(current)) throw badRequest(`metadata URL must be https${o.allowHttp ? ' or http' : ''}`);
  const signal = AbortSignal.timeout(10_000);
  for (let hop = 0; ; hop++) {
    let res: Response;
    try {
      res = await o.fetch(current, { signal, redirect: 'manual', headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' } });
    } catch (err) {
      if (isEgressRefusal(err)) throw badRequest(`IdP metadata is not fetched from ${current.origin}: a private, loopback or link-local address (OUTBOUND_ALLOWED_NETWORKS)`);
      throw badRequest(`could not fetch IdP metadata from ${current.origin}: ${(err as Error).message}`);
    }
    const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
    if (location !== null) {
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw badRequest(`IdP metadata URL redirected more than ${MAX_REDIRECTS} times`);
      const next = new URL(location, current);
      if (!allowed(next)) throw badRequest(`IdP metadata URL redirected to ${next.protocol}//${next.host}: metadata must be fetched over https${o.allowHttp ? ' or http' : ''}`);
      current = next;
      continue;
    }
    if (!res.ok) throw badRequest(`IdP metadata URL answered HTTP ${res.status}`);
    const body = await readBoundedText(res, MAX_BYTES);
    if (body === null) throw badRequest('IdP metadata is larger than 1 MB');
    return body;
  }
}
