import http from 'node:http';

export interface BearerProxy {
  url: string;
  /** Where requests go (set once the app runs). */
  target: string;
  close(): Promise<void>;
}

/**
 * A reverse proxy that adds `Authorization: Bearer <token>` to requests under `mcpPath` and forwards everything else
 * untouched: the MCP conformance suite speaks unauthenticated MCP, our endpoint requires a token on every request.
 */
export async function startBearerProxy(port: number, mcpPath: () => string, token: () => string): Promise<BearerProxy> {
  const proxy: BearerProxy = { url: `http://127.0.0.1:${port}`, target: '', close: async () => undefined };
  const server = http.createServer((req, res) => {
    const headers = { ...req.headers };
    if ((req.url ?? '').startsWith(mcpPath())) headers.authorization = `Bearer ${token()}`;
    const upstream = http.request(`${proxy.target}${req.url}`, { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}
