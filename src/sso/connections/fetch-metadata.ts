import { badRequest } from '../../lib/errors.js';

const MAX_BYTES = 1_000_000;

/** Downloads IdP metadata with a timeout and a size cap (metadata is tens of kilobytes; more is abuse). */
export async function fetchMetadata(url: string): Promise<string> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw badRequest('metadata URL must be http(s)');
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
