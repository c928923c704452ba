import type { RequestHandler } from 'express';

/**
 * DNS-rebinding defence (MCP 2025-11-25 transports: servers MUST validate Origin). Requests without Origin (native
 * clients, server-to-server) pass; a browser page may call only from our own origin. Anything else → 403.
 */
export function checkOrigin(publicUrl: string): RequestHandler {
  const own = new URL(publicUrl).origin;
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin === undefined || origin === own) return next();
    res.status(403).json({ jsonrpc: '2.0', error: { code: -32000, message: 'Forbidden: Origin not allowed' }, id: null });
  };
}
