import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { Services } from '../services.js';
import { jsonBody } from '../http/body.js';
import { clientIp } from '../http/client-ip.js';
import { requestLogger } from '../http/request-log.js';
import { pageSecurityHeaders } from '../http/security-headers.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { authenticateScim, scimVerifiers } from './scim-auth.js';
import { scimCtxOf } from './scim-context.js';
import { groupOperations, userOperations, type ScimOperation } from './scim-operations.js';
import { scimErrorAnswer, scimErrorOf, writeScim } from './scim-response.js';
import { refuseDirectorySyncWrite, SCIM_BODY_LIMIT } from './scim-routes.js';

/** Serves one request, or calls `express` (having touched nothing) to hand it to the Express application. */
export type ScimEndpoint = (req: IncomingMessage, res: ServerResponse, express: () => void) => void;

// The hot shapes, exactly as written by IdPs: /t/{slug}/scim/v2/Users|Groups[/{id}][/][?query]. No percent-encoding
// in the path (Express would decode it: such paths go to Express), no fragment; other casings go to Express too.
const HOT_PATH = /^\/t\/([^/?#%]+)\/scim\/v2\/(Users|Groups)(?:\/([^/?#%]+))?\/?(?:\?([^#]*))?$/;

const operations = { Users: userOperations, Groups: groupOperations } as const;

/** The operation the Express routes would run for this method on this shape, if it is one of the hot ones. */
function operationOf(method: string | undefined, resource: 'Users' | 'Groups', id: string | undefined, req: IncomingMessage): ScimOperation | undefined {
  const ops = operations[resource];
  if (method === 'GET') {
    // Express answers a fresh conditional GET with 304 (res.send): not reproduced here.
    if (req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined) return undefined;
    return id === undefined ? ops.list : ops.get;
  }
  if (method === 'POST') return id === undefined ? ops.create : undefined;
  if (method === 'PATCH') return id === undefined ? undefined : ops.patch;
  return undefined;
}

/**
 * The SCIM requests of an IdP's provisioning cycle — GET, POST and PATCH on Users and Groups — on plain node:http in
 * front of Express (app.ts), as decision 0010 did for MCP: the Express router's layer matching for the ~20 layers
 * before the SCIM routes, its request/response prototypes and `res.send` were a measurable part of each request's CPU
 * (decision 0046). Everything the Express stack does for these requests is done here, in the same order, by the same
 * framework-free functions: request id and log line, the page security headers (helmet), the tenant (unknown or
 * disabled: handed to Express, whose 404 it is), the operation counter, the bearer check, the body (the same parser:
 * 4 MB, JSON media types), the directory-sync write refusal, the operation (scim-operations.ts) and the SCIM error
 * answer. test/scim/scim-endpoint.test.ts sends the same requests both ways and compares the answers.
 */
export function scimEndpoint(s: Services): ScimEndpoint {
  const begin = requestLogger(s.logger, { ipOf: clientIp });
  const headers = pageSecurityHeaders();
  const body = jsonBody(SCIM_BODY_LIMIT);
  const verifiers = scimVerifiers(s);
  const readBody = (req: IncomingMessage, res: ServerResponse) =>
    new Promise<void>((resolve, reject) => {
      // body-parser and helmet are plain (req, res, next) functions: Express's own request type is not needed.
      (body as unknown as (q: IncomingMessage, r: ServerResponse, next: (err?: unknown) => void) => void)(req, res, (err) => (err ? reject(err) : resolve()));
    });
  const setHeaders = headers as unknown as (q: IncomingMessage, r: ServerResponse, next: () => void) => void;

  async function serve(req: IncomingMessage, res: ServerResponse, t: TenantCtx, resource: string, op: ScimOperation, id: string, query: string) {
    try {
      const principal = await authenticateScim(verifiers, t, req.headers.authorization);
      await readBody(req, res);
      refuseDirectorySyncWrite(t, req.method, `/${resource}`);
      const c = scimCtxOf(s, t, principal, req, clientIp(req));
      writeScim(res, await op({ c, id, query: parseQuery(query), body: (req as { body?: unknown }).body, ifMatch: req.headers['if-match'] }));
    } catch (err) {
      const a = scimErrorAnswer(res, scimErrorOf(err, req));
      if (a) writeScim(res, a);
    }
  }

  return (req, res, express) => {
    const m = HOT_PATH.exec(req.url ?? '/');
    const resource = m?.[2] as 'Users' | 'Groups' | undefined;
    const op = m && resource && operationOf(req.method, resource, m[3], req);
    if (!m || !resource || !op) return express();
    const slug = m[1]!;
    s.tenants.findActive(slug).then(
      (t) => {
        // Unknown and disabled tenants, or a failing directory: Express answers them (its 404 and error pages).
        if (!t) return express();
        begin(req, res);
        setHeaders(req, res, () => {});
        // SCIM operations by tenant, resource, method and result — counted before authentication so 401s show too.
        res.once('finish', () => s.metrics.scim(t.slug, resource, req.method!, res.statusCode));
        return serve(req, res, t, resource, op, m[3] ?? '', m[4] ?? '');
      },
      () => express(),
    ).catch((err: unknown) => {
      // Only a fault of this module itself can land here (serve answers every error): log it, never hang the client.
      req.log?.error({ err, traceId: String(req.id ?? '') }, 'unexpected SCIM error');
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  };
}
