import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { AppError } from '../lib/errors.js';

/** Errors thrown by express.json()/urlencoded() carry `type` and `status` (body-parser). */
interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
}

/** Maps body-parser failures to client errors; shared by the protocol-specific handlers (SCIM, OAuth). */
export function classifyBodyError(err: unknown): { status: number; reason: 'too_large' | 'malformed' | 'unsupported' } | null {
  const e = err as BodyParserError;
  switch (e?.type) {
    case 'entity.too.large':
      return { status: 413, reason: 'too_large' };
    case 'entity.parse.failed':
    case 'entity.verify.failed':
    case 'request.aborted':
    case 'request.size.invalid':
      return { status: 400, reason: 'malformed' };
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return { status: 415, reason: 'unsupported' };
    default:
      return null;
  }
}

const bodyMessages = {
  too_large: 'Request body is too large',
  malformed: 'Request body is not valid JSON',
  unsupported: 'Unsupported request encoding',
};

/**
 * The application's one generic error handler. Client mistakes → 4xx with a clear message; anything else → 500 with
 * a trace id (the request id) and the details only in the log. Never a stack trace to the client.
 */
export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const traceId = String(req.id ?? '');
  let status = 500;
  let body: Record<string, unknown>;
  const bodyError = classifyBodyError(err);
  if (err instanceof AppError && err.expose) {
    status = err.status;
    body = { error: err.code, message: err.message };
  } else if (bodyError) {
    status = bodyError.status;
    body = { error: bodyError.reason === 'too_large' ? 'payload_too_large' : 'invalid_request', message: bodyMessages[bodyError.reason] };
  } else if (err instanceof ZodError) {
    status = 400;
    body = { error: 'invalid_request', message: err.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ') };
  } else {
    body = { error: 'server_error', message: 'Internal error', traceId };
  }
  if (status >= 500) req.log?.error({ err, traceId }, 'unexpected error');
  else req.log?.info({ status, error: body.error }, 'client error');
  if (res.headersSent) {
    res.end();
    return;
  }
  res.status(status).json(body);
};

export const notFoundHandler: RequestHandler = (_req, res) => {
  res.status(404).json({ error: 'not_found', message: 'Not found' });
};
