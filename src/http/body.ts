import express, { type RequestHandler } from 'express';
import { hasLoneSurrogate } from '../lib/lone-surrogates.js';

/** Default body limits: generous for SCIM batches and SAML responses, small enough to refuse abuse early. */
export const bodyLimits = { json: '1mb', form: '2mb' } as const;

const SURROGATE_ESCAPE = Symbol('surrogate escape');
type Flagged = { [SURROGATE_ESCAPE]?: boolean; body?: unknown };

/**
 * JSON bodies, including `application/*+json` (SCIM's application/scim+json). Errors reach the router's handler.
 * A body with a lone UTF-16 surrogate (lone-surrogates.ts) is refused as malformed, as body-parser refuses bad JSON:
 * the database would refuse it later with a 500.
 */
export const jsonBody = (limit: string = bodyLimits.json): RequestHandler => {
  const parse = express.json({
    limit,
    type: ['application/json', 'application/*+json'],
    strict: false,
    verify: (req, _res, buf) => {
      if (buf.includes('\\ud') || buf.includes('\\uD')) (req as Flagged)[SURROGATE_ESCAPE] = true;
    },
  });
  return (req, res, next) =>
    parse(req, res, (err?: unknown) => {
      if (err) return next(err);
      const r = req as Flagged;
      if (r[SURROGATE_ESCAPE] && hasLoneSurrogate(r.body)) return next(malformedBody());
      next();
    });
};

/** A body-parser-shaped "not valid JSON" (error-handler.ts classifies it). */
export const malformedBody = () => Object.assign(new Error('entity.parse.failed'), { type: 'entity.parse.failed', status: 400, expose: true });

export const formBody = (limit: string = bodyLimits.form): RequestHandler =>
  express.urlencoded({ limit, extended: false, parameterLimit: 200 });
