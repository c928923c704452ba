import { badRequest } from '../../lib/errors.js';

const MAX_BYTES = 1_000_000;

/**
 * Downloads IdP metadata with a timeout and a size cap (metadata is tens of kilobytes; more is abuse). In production
 * only https: the metadata carries the certificates we trust, so a plain-http fetch would let anyone on the path
 * choose them. http stays possible in development and tests (local fake IdPs).
 */
export async function fetchMetadata(url: string, o: { allowHttp: boolean }): Promise<string> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && !(o.allowHttp && parsed.protocol === 'http:')) throw badRequest(`metadata URL must be https${o.allowHttp ? ' or http' : ''}`);
  let res: Response;
  try {
    res = await fetch(parsed, { signal: AbortSignal.timeout(10_000), redirect: 'follow', headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' } });
  } catch (err) {
    throw badRequest(`could not fetch IdP metadata from ${parsed.origin}: ${(err as Error).message}`);
  }
  if (!res.ok) throw badRequest(`IdP metadata URL answered HTTP ${res.status}`);
  const body = await res.arrayBuffer();
  if (body.byteLength > MAX_BYTES) throw badRequest('IdP metadata is larger than 1 MB');
  return Buffer.from(body).toString('utf8');
}
