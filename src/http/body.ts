import express, { type RequestHandler } from 'express';

/** Default body limits: generous for SCIM batches and SAML responses, small enough to refuse abuse early. */
export const bodyLimits = { json: '1mb', form: '2mb' } as const;

/** JSON bodies, including `application/*+json` (SCIM's application/scim+json). Errors reach the router's handler. */
export const jsonBody = (limit: string = bodyLimits.json): RequestHandler =>
  express.json({ limit, type: ['application/json', 'application/*+json'], strict: false });

export const formBody = (limit: string = bodyLimits.form): RequestHandler =>
  express.urlencoded({ limit, extended: false, parameterLimit: 200 });
