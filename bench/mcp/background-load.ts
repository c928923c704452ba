// A steady background load in a process of its own (bench/cold.ts): other users' `tools/call`s of the upstream's
// `echo`, each user's token cached by the gateway, sent open-loop at BG_RATE requests/s (bench/open-loop.ts) round-robin
// over BG_TOKENS (comma-separated) to BG_URL, until SIGTERM. So the node serves traffic while the cold samples are
// taken, as a serving node does, instead of idling between them. Prints "ready" once the first request has answered,
// and on SIGTERM one JSON line: requests sent, errors, the rate sent at and the calls' latencies from their due times.
import { latencies, openLoop, quantile } from '../open-loop.js';
import { benchClient, postJson } from './post-json.js';

const url = process.env.BG_URL!;
const tokens = process.env.BG_TOKENS!.split(',');
const rate = Number(process.env.BG_RATE ?? 200);

const client = benchClient();

const call = async (i: number) => {
  const { status, text } = await postJson(
    client,
    url,
    { authorization: `Bearer ${tokens[i % tokens.length]}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    JSON.stringify({ jsonrpc: '2.0', id: i + 1, method: 'tools/call', params: { name: 'up__echo', arguments: { text: 'background' } } }),
  );
  if (status !== 200 || !text.includes('"background"')) throw new Error(`${status} ${text.slice(0, 200)}`);
};

let stopping = false;
process.once('SIGTERM', () => void (stopping = true));
await call(0);
console.log('ready');
const r = await openLoop(Infinity, rate, (i) => call(i + 1), undefined, () => stopping);
const l = latencies(r).corrected;
const seconds = (r.sent.at(-1)! - r.start) / 1000;
console.log(
  JSON.stringify({
    sent: r.sent.length,
    errors: r.errors.length,
    firstError: r.errors[0] && String(r.errors[0].error),
    perSec: (r.sent.length - 1) / seconds,
    p50: quantile(l, 0.5),
    p99: quantile(l, 0.99),
    max: l.at(-1),
  }),
);
process.exit(0); // the HTTP client's keep-alive sockets would hold the process open
