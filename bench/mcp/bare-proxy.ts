// The floor of one extra hop, in a process of its own like the gateway: pipes requests and responses to TARGET with a
// keep-alive agent, no parsing, no logic. Prints its URL on stdout.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const target = process.env.TARGET!;
// Idle pooled sockets are closed after 4 s, before the upstream's keep-alive timeout (Node's default 5 s) closes them
// from its side: otherwise a request sent on a socket the upstream is closing fails with ECONNRESET (a 502 the gateway,
// on undici, which honours the server's Keep-Alive hint, does not have). The baseline must not fail for its own pool.
//
// At most 64 connections to the upstream, kept alive, requests queued in the agent beyond that: the same bound as the
// gateway's undici Pool per upstream (src/tools/upstream-call.ts), as a reverse proxy is deployed in front of an
// application server (Envoy's cluster circuit breaker caps connections, 1,024 by default; nginx's `keepalive` pool
// with `max_conns`). Unbounded (`maxSockets: Infinity`, Node's default) the proxy answered any pause of the upstream
// with hundreds of new connections, each a handshake to the paused process, past its accept queue (backlog 511) into
// SYN retransmission (1 s, then 3 s): a tail the gateway, capped at 64, could not have (docs/benchmarks.md, "the bare
// proxy's open-loop tail"). With the same bound both hops offer the upstream the same concurrency; a closed loop of 8
// never reaches it.
const agent = new http.Agent({ keepAlive: true, timeout: 4_000, maxSockets: 64 });
const server = http.createServer((req, res) => {
  const forward = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers, agent }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  forward.on('error', (err: NodeJS.ErrnoException) => {
    // Said on stderr (the benchmark shows it) so a 502 of the baseline has a cause next to it.
    process.stderr.write(`bare proxy: 502 after ${err.code ?? err.message}\n`);
    res.writeHead(502).end();
  });
  req.pipe(forward);
});
server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
