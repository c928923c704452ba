import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import { hasLoneSurrogate, mayHaveLoneSurrogate } from '../lib/lone-surrogates.js';

/** Largest MCP request body (a tools/call with large arguments fits; anything bigger is refused with 413). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

const parseJson = express.json({ limit: MAX_BODY_BYTES, type: ['application/json'] });

/** An error shaped like body-parser's, so `classifyBodyError` answers both readers' failures the same way. */
const bodyError = (type: 'entity.too.large' | 'entity.parse.failed' | 'request.aborted' | 'request.size.invalid', status: number) =>
  Object.assign(new Error(type), { type, status, expose: true });

/**
 * The body of an MCP POST. The common case — `Content-Type: application/json` (optionally `charset=utf-8`), no
 * `Content-Encoding` — is read directly: body-parser's content-type negotiation, charset decoding and stream
 * plumbing were a measurable part of the gateway's CPU per tools/call. Anything else (another charset, a compressed
 * body, another media type) goes through body-parser exactly as before, which decodes, inflates or ignores it.
 * Returns undefined when the body is not JSON (the SDK transport then answers 415).
 */
export async function readJsonBody(req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<unknown> {
  const raw = req.headers['content-type'];
  // The exact header every MCP client sends is recognised without normalising it first (two string copies per request).
  const type = raw === 'application/json' ? raw : raw?.toLowerCase().replace(/\s+/g, '');
  const plain = (type === 'application/json' || type === 'application/json;charset=utf-8') && !req.headers['content-encoding'];
  if (!plain) {
    // body-parser's middleware needs nothing of Express's request or response beyond node's.
    await new Promise<void>((resolve, reject) => parseJson(req as Parameters<typeof parseJson>[0], res as Parameters<typeof parseJson>[1], (err?: unknown) => (err ? reject(err) : resolve())));
    if (hasLoneSurrogate(req.body)) throw bodyError('entity.parse.failed', 400);
    return req.body;
  }
  const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
  if (declared !== undefined && declared > MAX_BODY_BYTES) throw bodyError('entity.too.large', 413);
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      cleanup();
      req.resume(); // drain what is left so the connection stays usable for the error response
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) fail(bodyError('entity.too.large', 413));
      else chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      if (declared !== undefined && declared !== size) reject(bodyError('request.size.invalid', 400));
      else resolve();
    };
    const onAborted = () => fail(bodyError('request.aborted', 400));
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('aborted', onAborted);
      req.off('error', onAborted);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onAborted);
    req.on('error', onAborted);
  });
  // As body-parser decodes UTF-8 (a BOM is dropped) and parses strictly: an empty body is {} (the transport then
  // refuses it as not JSON-RPC), anything but an object or array at the top is a parse error.
  // One chunk (a body that came with its headers, as most do) is decoded as is, without Buffer.concat's copy.
  let text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)).toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.length === 0) return (req.body = {});
  const first = firstNonSpace(text);
  if (first !== '{' && first !== '[') throw bodyError('entity.parse.failed', 400);
  try {
    req.body = JSON.parse(text) as unknown;
  } catch {
    throw bodyError('entity.parse.failed', 400);
  }
  // A lone surrogate is no text: refused as malformed, as body.ts's jsonBody does (the escape test costs a scan).
  if (mayHaveLoneSurrogate(text) && hasLoneSurrogate(req.body)) throw bodyError('entity.parse.failed', 400);
  return req.body;
}

/**
 * The first character that is not JSON whitespace — what `text.trimStart()[0]` gave for a body JSON.parse accepts,
 * without copying the body. (trimStart also skips other Unicode spaces: a body starting with one is refused either
 * way, by this check or by JSON.parse, with the same parse error.)
 */
export function firstNonSpace(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return text[i];
  }
  return undefined;
}
