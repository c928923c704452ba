// Entra provisioning pattern (`npm run bench -- scim-entra`): 20 tenants, each sending 25 requests/s (open loop: a
// request is sent every 40 ms whether or not the previous one has answered) for 60 s, as Entra's provisioning cycle
// does for a new user: GET /Users?filter=userName eq "…" (no match), POST /Users, PATCH /Users/{id} (replace
// displayName and the enterprise department). The same schedule is sent to the bare Express + pg endpoint
// (bench/scim/bare-endpoint.ts: the same select, insert and one UPDATE) in the same run.
// Goal (issue 17): zero errors and p99 < 50 ms. BENCH_ENTRA_SECONDS / BENCH_ENTRA_TENANTS / BENCH_ENTRA_RATE shorten it.
import pg from 'pg';
import { createScimToken } from '../src/scim/scim-tokens.js';
import { findTenantBySlug } from '../src/tenants/find-tenant.js';
import { createTenant } from '../src/tenants/manage-tenants.js';
import { closeServices, cpuUs, pct, startAppProcess, startProcess, stop } from './support.js';
import { createBareTable } from './scim.js';

const SECONDS = Number(process.env.BENCH_ENTRA_SECONDS ?? 60);
const TENANTS = Number(process.env.BENCH_ENTRA_TENANTS ?? 20);
const RATE = Number(process.env.BENCH_ENTRA_RATE ?? 25); // requests/s per tenant

interface Target {
  name: string;
  usersUrl: string;
  headers: Record<string, string>;
  filter(userName: string): string;
}

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** Runs the schedule for every target tenant at once; returns every request's latency and the errors. */
async function entraPattern(targets: Target[], tag: string, seconds: number) {
  const latencies: number[] = [];
  const errors: string[] = [];
  const timed = async (what: string, url: string, init: RequestInit, status: number) => {
    const t0 = performance.now();
    try {
      const res = await fetch(url, init);
      const body = await res.text();
      latencies.push(performance.now() - t0);
      if (res.status !== status) errors.push(`${what} ${res.status} ${body.slice(0, 200)}`);
      return body;
    } catch (err) {
      errors.push(`${what} ${String(err)}`);
      return '';
    }
  };
  const perTenant = Math.round(seconds * RATE);
  const interval = 1000 / RATE;
  const started = performance.now();
  await Promise.all(
    targets.map(async (t, ti) => {
      const inFlight: Promise<unknown>[] = [];
      let created: Promise<string | undefined> = Promise.resolve(undefined);
      // Tenants start staggered across one interval so their requests do not arrive in lock-step.
      for (let i = 0; i < perTenant; i++) {
        const at = started + (ti * interval) / targets.length + i * interval;
        const wait = at - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const k = Math.floor(i / 3);
        const userName = `${tag}${k}@t${ti}.example`;
        const step = i % 3;
        if (step === 0) {
          inFlight.push(timed('GET', `${t.usersUrl}?${t.filter(userName)}`, { headers: t.headers }, 200));
        } else if (step === 1) {
          const body = JSON.stringify({ schemas: [USER, ENTERPRISE], userName, externalId: `${tag}-${ti}-${k}`, active: true,
            name: { givenName: 'Entra', familyName: `User ${k}` }, emails: [{ primary: true, type: 'work', value: userName }] });
          created = timed('POST', t.usersUrl, { method: 'POST', headers: t.headers, body }, 201).then((b) => (b ? (JSON.parse(b) as { id: string }).id : undefined));
          inFlight.push(created);
        } else {
          // The PATCH names the id the POST returned: it waits for it if the POST has not answered yet.
          const ops = JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [
            { op: 'Replace', path: 'displayName', value: `Entra User ${k}` },
            { op: 'Replace', path: `${ENTERPRISE}:department`, value: 'Bench' },
          ] });
          inFlight.push(created.then((id) => id && timed('PATCH', `${t.usersUrl}/${id}`, { method: 'PATCH', headers: t.headers, body: ops }, 200)));
        }
      }
      await Promise.all(inFlight);
    }),
  );
  return { ms: performance.now() - started, latencies: latencies.sort((a, b) => a - b), errors };
}

export async function main(databaseUrl: string): Promise<void> {
  const server = await startAppProcess(databaseUrl, 'entra', process.env.BENCH_SCIM_NODE_ARGS?.split(' ').filter(Boolean));
  const { db } = server;
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  pool.on('error', () => {});
  await server.ready;
  await createBareTable(pool);
  const bareProcess = startProcess(process.execPath, ['--import', 'tsx', 'bench/scim/bare-endpoint.ts'], { DATABASE_URL: db.url });
  const services = await server.services();
  try {
    const bareUrl = await bareProcess.url;
    const scimTargets: Target[] = [];
    const bareTargets: Target[] = [];
    for (let i = 0; i < TENANTS; i++) {
      await createTenant(services.db, { slug: `entra${i}`, name: `Entra ${i}` });
      const t = (await findTenantBySlug(services.db, `entra${i}`))!;
      const { token, baseUrl } = await createScimToken(t, services.config.publicUrl);
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' };
      scimTargets.push({ name: t.slug, usersUrl: `${baseUrl}/Users`, headers, filter: (u) => `filter=${encodeURIComponent(`userName eq "${u}"`)}` });
      bareTargets.push({ name: t.slug, usersUrl: `${bareUrl}/users`, headers, filter: (u) => `userName=${encodeURIComponent(u)}` });
    }
    // Warm-up: two seconds of the same pattern on each (JIT, pools, plans), not measured.
    await entraPattern(scimTargets, 'warm', Math.min(2, SECONDS));
    await entraPattern(bareTargets, 'warm', Math.min(2, SECONDS));
    const cpu0 = cpuUs(server.child);
    const scim = await entraPattern(scimTargets, 'e', SECONDS);
    const scimCpu = cpuUs(server.child) - cpu0;
    const bcpu0 = cpuUs(bareProcess.child);
    const bare = await entraPattern(bareTargets, 'e', SECONDS);
    const bareCpu = cpuUs(bareProcess.child) - bcpu0;
    const row = (name: string, r: Awaited<ReturnType<typeof entraPattern>>, cpu: number) =>
      `| ${name} | ${r.latencies.length} | ${((r.latencies.length / r.ms) * 1000).toFixed(0)} | ${r.errors.length} | ${pct(r.latencies, 50).toFixed(1)} / ${pct(r.latencies, 99).toFixed(1)} / ${r.latencies.at(-1)!.toFixed(1)} ms | ${(cpu / Math.max(1, r.latencies.length)).toFixed(0)} µs |`;
    console.log(`\n## SCIM, Entra pattern (${TENANTS} tenants × ${RATE} requests/s for ${SECONDS} s: GET filter, POST, PATCH)`);
    console.log('| target | requests | req/s | errors | p50 / p99 / max | server CPU per request |');
    console.log('|---|---:|---:|---:|---:|---:|');
    console.log(row('SSO Bridge (`node dist/server.js`)', scim, scimCpu));
    console.log(row('bare Express + pg', bare, bareCpu));
    console.log(`goal: zero errors and p99 < 50 ms; p99 ratio ${(pct(scim.latencies, 99) / pct(bare.latencies, 99)).toFixed(2)}× bare`);
    for (const e of scim.errors.slice(0, 5)) console.log(`  error: ${e}`);
  } finally {
    await Promise.all([stop(server.child), stop(bareProcess.child)]);
    await pool.end();
    await closeServices(services);
    await db.drop();
  }
}
