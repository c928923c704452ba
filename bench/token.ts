// Token endpoint benchmark (`npm run bench -- token`): the tenant authorization server's token endpoint
// (oidc-provider inside `node dist/server.js`, logging at info) answering the authorization_code grant (PKCE, a code
// per request) and the refresh_token grant (rotation: each request of a chain presents the refresh token the previous
// answer returned), beside a bare `jose` sign-and-return endpoint (bench/token/bare-token.ts: same RS256 key size, no
// state) in its own process, at the same concurrency, in the same run. Goal (issue 17 §5): requests/s ≥ 0.5× bare.
//
// Codes come from the real authorization flow driven without a browser (test/oauth/support/oauth-client.ts: a signed-in
// cookie jar, /authorize, the consent form); they live 60 s, so they are made in batches, each batch redeemed at once
// and only the redemption is timed. CPU per request of each server process and of PostgreSQL comes from /proc.
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { findTenantBySlug } from '../src/tenants/find-tenant.js';
import { createTenant } from '../src/tenants/manage-tenants.js';
import type { TenantCtx } from '../src/tenants/tenant-context.js';
import { authorize, createUser, mcpUrl, obtainTokens, pkce, registerClient, signedInBrowser, tokenRequest, type Browser } from '../test/oauth/support/oauth-client.js';
import { closeServices, cpuUs, drive, pct, postgresCpuUs, postmasterPid, serverCpuUs, startAppProcess, startProcess, stop } from './support.js';

const CODES = Number(process.env.BENCH_TOKEN_CODES ?? 1000);
const REFRESHES = Number(process.env.BENCH_TOKEN_REFRESHES ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_TOKEN_CONCURRENCY ?? 8);
// Made, then redeemed, well within the codes' 60 s lifetime even on a loaded machine.
const BATCH = Number(process.env.BENCH_TOKEN_BATCH ?? 250);

type App = Parameters<typeof obtainTokens>[0];
type Client = Awaited<ReturnType<typeof registerClient>>;
interface Timed { ms: number; latencies: number[]; cpuUs: number; pgCpuUs: number; n: number }

/** The benchmark's PostgreSQL server's CPU when it runs on this machine (only its processes), else every postgres process's. */
let pgCpu: () => number = postgresCpuUs;

/** Times `n` requests at CONCURRENCY and charges the CPU `hop` and PostgreSQL used meanwhile to them. */
async function timed(hop: ChildProcess, n: number, one: (i: number, worker: number) => Promise<void>): Promise<Timed> {
  const cpu0 = cpuUs(hop);
  const pg0 = pgCpu();
  const run = await drive(n, CONCURRENCY, one);
  return { ...run, n, cpuUs: cpuUs(hop) - cpu0, pgCpuUs: Math.max(0, pgCpu() - pg0) };
}

/** Several timed parts as one: wall times and CPU added, latencies pooled. */
function merge(parts: Timed[]): Timed {
  const sum = (f: (p: Timed) => number) => parts.reduce((a, p) => a + f(p), 0);
  return { ms: sum((p) => p.ms), n: sum((p) => p.n), cpuUs: sum((p) => p.cpuUs), pgCpuUs: sum((p) => p.pgCpuUs), latencies: parts.flatMap((p) => p.latencies).sort((a, b) => a - b) };
}

/** `n` authorization codes with their PKCE verifiers, from the real flow, one signed-in browser per user. */
async function makeCodes(app: App, t: TenantCtx, client: Client, browsers: Browser[], n: number) {
  const codes: { code: string; verifier: string }[] = [];
  await drive(n, CONCURRENCY, async (_, worker) => {
    const { verifier, challenge } = pkce();
    const { redirect } = await authorize(app, browsers[worker]!, {
      client_id: client.client_id, response_type: 'code', redirect_uri: client.redirect_uris[0]!, code_challenge: challenge,
      code_challenge_method: 'S256', state: 'st', resource: mcpUrl(app, t),
    }, t);
    const code = redirect?.searchParams.get('code');
    if (!code) throw new Error(`no code: ${redirect}`);
    codes.push({ code, verifier });
  });
  return codes;
}

function expectToken(target: string, res: Awaited<ReturnType<typeof tokenRequest>>) {
  if (res.status !== 200 || !res.body.access_token || !res.body.refresh_token) throw new Error(`${target}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function main(databaseUrl: string): Promise<void> {
  const server = await startAppProcess(databaseUrl, 'token', process.env.BENCH_TOKEN_NODE_ARGS?.split(' ').filter(Boolean));
  const bareProcess = startProcess(process.execPath, ['--import', 'tsx', 'bench/token/bare-token.ts'], {});
  const services = await server.services();
  const postmaster = await postmasterPid(databaseUrl);
  if (postmaster !== null) pgCpu = () => serverCpuUs(postmaster);
  try {
    await server.ready;
    // The bare endpoint answers any path: the same request (tokenRequest's /t/<slug>/oauth/token) goes to both.
    const bare = { url: await bareProcess.url } as App;
    await createTenant(services.db, { slug: 'bench', name: 'Bench' });
    const t = (await findTenantBySlug(services.db, 'bench'))!;
    const app = { url: server.publicUrl, services } as App;
    const client = await registerClient(app, t); // one client application (registration is rate limited)
    const users = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => createUser(t, `token${i}@bench.example`)));
    const browsers = await Promise.all(users.map((u) => signedInBrowser(app, t, u.id)));
    // Each user's first flow shows the consent page; later ones reuse the grant. These also give every refresh chain
    // its first refresh token.
    const chains = await Promise.all(users.map(async (u) => expectToken('setup', (await obtainTokens(app, t, u.id, client)).tokens).refresh_token!));
    const redirectUri = client.redirect_uris[0]!;
    const codeForm = (c: { code: string; verifier: string }) => ({ grant_type: 'authorization_code', code: c.code, redirect_uri: redirectUri, client_id: client.client_id, code_verifier: c.verifier });

    const codeRound = async (n: number) => {
      const parts: { app: Timed; bare: Timed }[] = [];
      for (let done = 0; done < n; done += BATCH) {
        const codes = await makeCodes(app, t, client, browsers, Math.min(BATCH, n - done));
        const a = await timed(server.child, codes.length, async (i) => void expectToken('app', await tokenRequest(app, t, codeForm(codes[i]!))));
        const b = await timed(bareProcess.child, codes.length, async (i) => void expectToken('bare', await tokenRequest(bare, t, codeForm(codes[i]!))));
        parts.push({ app: a, bare: b });
      }
      return { app: merge(parts.map((p) => p.app)), bare: merge(parts.map((p) => p.bare)) };
    };
    const refreshRound = async (n: number) => {
      const form = (refreshToken: string) => ({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.client_id });
      const a = await timed(server.child, n, async (_, worker) => {
        chains[worker] = expectToken('app', await tokenRequest(app, t, form(chains[worker]!))).refresh_token!;
      });
      const bareChains = [...chains];
      const b = await timed(bareProcess.child, n, async (_, worker) => {
        bareChains[worker] = expectToken('bare', await tokenRequest(bare, t, form(bareChains[worker]!))).refresh_token!;
      });
      return { app: a, bare: b };
    };
    // Warm-up (JIT, pool connections, the provider's first requests) on both grants and both targets.
    await codeRound(Math.min(100, CODES));
    await refreshRound(Math.min(200, REFRESHES));
    const codeRun = await codeRound(CODES);
    const refreshRun = await refreshRound(REFRESHES);

    const perSec = (r: Timed) => (r.n / r.ms) * 1000;
    const row = (grant: string, r: { app: Timed; bare: Timed }) => {
      const ratio = perSec(r.app) / perSec(r.bare);
      return `| ${grant} | ${perSec(r.app).toFixed(0)}/s | ${perSec(r.bare).toFixed(0)}/s | **${ratio.toFixed(2)}×** | ${pct(r.app.latencies, 50).toFixed(1)} / ${pct(r.app.latencies, 99).toFixed(1)} ms | ${pct(r.bare.latencies, 50).toFixed(1)} / ${pct(r.bare.latencies, 99).toFixed(1)} ms | ${(r.app.cpuUs / r.app.n).toFixed(0)} / ${(r.app.pgCpuUs / r.app.n).toFixed(0)} µs | ${(r.bare.cpuUs / r.bare.n).toFixed(0)} µs | ≥ 0.5×: ${ratio >= 0.5 ? 'met' : '**not met**'} |`;
    };
    console.log(`\n## Token endpoint on PostgreSQL (${CODES} authorization_code and ${REFRESHES} refresh_token requests at concurrency ${CONCURRENCY}, ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
    console.log('| grant | application | bare jose | application ÷ bare | application p50 / p99 | bare p50 / p99 | CPU per request: application / PostgreSQL | CPU per request: bare | goal |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|');
    console.log(row('authorization_code (PKCE)', codeRun));
    console.log(row('refresh_token (rotation)', refreshRun));
  } finally {
    await Promise.all([stop(server.child), stop(bareProcess.child)]);
    await closeServices(services);
    await server.db.drop();
  }
}

if (process.argv[1]?.endsWith('token.ts')) await main(process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
