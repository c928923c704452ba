/**
 * Reads a fetch Response body as UTF-8, stopping as soon as it passes `maxBytes`: a server (or anyone an admin-given
 * URL points at) must not make us buffer an unbounded body before a size check could run. Returns null when the body
 * is larger than the bound; the rest of the stream is cancelled.
 */
export async function readBoundedText(res: Response, maxBytes: number): Promise<string | null> {
  if (!res.body) return '';
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body.cancel();
    return null;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
