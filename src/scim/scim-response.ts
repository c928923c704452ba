import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Response } from 'express';
import { classifyBodyError } from '../http/error-handler.js';
import { ScimError, scimBadRequest } from './scim-error.js';

export const SCIM_MEDIA_TYPE = 'application/scim+json';
export const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

/** A SCIM operation's answer, framework-free (scim-operations.ts): status, body, and the created resource's URL. */
export interface ScimAnswer {
  status: number;
  body?: unknown;
  location?: string;
  /** The resource's version (`meta.version`), also when `attributes=` / `excludedAttributes=` left `meta` out. */
  etag?: string;
}

/** RFC 7644 §3.14: a single resource carries its version as the ETag header too. */
export const versionOf = (body: unknown): string | undefined => {
  const v = (body as { meta?: { version?: unknown } }).meta?.version;
  return typeof v === 'string' ? v : undefined;
};

/** Every SCIM answer, success or error, is `application/scim+json` (RFC 7644 §3.1). */
export function sendScim(res: Response, status: number, body?: unknown, etag: string | undefined = versionOf(body ?? {})): void {
  res.status(status);
  if (body === undefined) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', SCIM_MEDIA_TYPE);
  if (etag !== undefined) res.setHeader('ETag', etag);
  res.send(JSON.stringify(body));
}

/** An operation's answer through Express (the route adapters). */
export function answerScim(res: Response, a: ScimAnswer): void {
  if (a.location !== undefined) res.setHeader('Location', a.location);
  sendScim(res, a.status, a.body, a.etag ?? versionOf(a.body ?? {}));
}

/**
 * What sendScim's `res.send` writes, on node's response alone (the hot path, scim-endpoint.ts): the charset Express
 * appends, Content-Length, and when the body has no version Express's default weak ETag (`etag` package: length and
 * SHA-1 of the UTF-8 bytes). Express's 304 for a fresh conditional GET is not reproduced: the hot path leaves
 * requests with If-None-Match or If-Modified-Since to Express. test/scim/scim-endpoint.test.ts compares the two.
 */
export function writeScim(res: ServerResponse, a: ScimAnswer): void {
  if (a.location !== undefined) res.setHeader('Location', a.location);
  res.statusCode = a.status;
  if (a.body === undefined) {
    res.end();
    return;
  }
  const text = JSON.stringify(a.body);
  res.setHeader('Content-Type', `${SCIM_MEDIA_TYPE}; charset=utf-8`);
  const version = a.etag ?? versionOf(a.body);
  if (version !== undefined) res.setHeader('ETag', version);
  const length = Buffer.byteLength(text);
  res.setHeader('Content-Length', length);
  if (version === undefined) res.setHeader('ETag', `W/"${length.toString(16)}-${createHash('sha1').update(text, 'utf8').digest('base64').slice(0, 27)}"`);
  res.end(text);
}

export function listResponse(resources: unknown[], totalResults: number, startIndex: number) {
  return { schemas: [LIST_RESPONSE], totalResults, startIndex, itemsPerPage: resources.length, Resources: resources };
}

/**
 * The one SCIM error type for anything a SCIM request threw: client mistakes keep their 4xx status; anything
 * unexpected becomes a 500 carrying only a trace id (details go to the log). Framework-free: the Express handler
 * below and the hot path both use it.
 */
export function scimErrorOf(err: unknown, req: IncomingMessage): ScimError {
  let e: ScimError;
  const bodyError = classifyBodyError(err);
  if (err instanceof ScimError) e = err;
  else if (bodyError?.reason === 'too_large') e = new ScimError(413, 'Request body is too large');
  else if (bodyError?.reason === 'unsupported') e = new ScimError(415, 'Unsupported request encoding');
  else if (bodyError) e = scimBadRequest('invalidSyntax', 'Request body is not valid JSON');
  else {
    const traceId = String(req.id ?? '');
    req.log?.error({ err, traceId }, 'unexpected SCIM error');
    e = new ScimError(500, `Internal error (trace id ${traceId})`);
  }
  if (e.status < 500) req.log?.info({ status: e.status, scimType: e.scimType }, 'SCIM client error');
  return e;
}

/** A SCIM error's answer; RFC 6750 §3: a 401 names the scheme it expects. */
export function scimErrorAnswer(res: ServerResponse, e: ScimError): ScimAnswer | null {
  if (res.headersSent) {
    res.end();
    return null;
  }
  if (e.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="SCIM"');
  return { status: e.status, body: e.toBody() };
}

/** The SCIM router's one error handler (scimErrorOf). */
export const scimErrorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const a = scimErrorAnswer(res, scimErrorOf(err, req));
  if (a) sendScim(res, a.status, a.body);
};
