import type { ErrorRequestHandler, Response } from 'express';
import { classifyBodyError } from '../http/error-handler.js';
import { ScimError, scimBadRequest } from './scim-error.js';

export const SCIM_MEDIA_TYPE = 'application/scim+json';
export const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

/** Every SCIM answer, success or error, is `application/scim+json` (RFC 7644 §3.1). */
export function sendScim(res: Response, status: number, body?: unknown): void {
  res.status(status);
  if (body === undefined) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', SCIM_MEDIA_TYPE);
  // RFC 7644 §3.14: a single resource carries its version as the ETag header too.
  const version = (body as { meta?: { version?: unknown } }).meta?.version;
  if (typeof version === 'string') res.setHeader('ETag', version);
  res.send(JSON.stringify(body));
}

export function listResponse(resources: unknown[], totalResults: number, startIndex: number) {
  return { schemas: [LIST_RESPONSE], totalResults, startIndex, itemsPerPage: resources.length, Resources: resources };
}

/**
 * The SCIM router's one error handler: client mistakes become SCIM Errors with their 4xx status; anything
 * unexpected becomes a 500 SCIM Error carrying only a trace id (details go to the log).
 */
export const scimErrorHandler: ErrorRequestHandler = (err, req, res, _next) => {
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
  if (res.headersSent) {
    res.end();
    return;
  }
  // RFC 6750 §3: a 401 names the scheme it expects.
  if (e.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="SCIM"');
  sendScim(res, e.status, e.toBody());
};
