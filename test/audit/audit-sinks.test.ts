import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deliverAuditSinks, sinkBackoffMs } from '../../src/audit/sinks/deliver-sinks.js';
import { addSink, listSinks, removeSink, retrySink } from '../../src/audit/sinks/manage-sinks.js';
import { createServices } from '../../src/services.js';
import { testDbKinds } from '../support/databases.js';
import { sinkKit } from './support/sink-kit.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

type Mode = 'ok' | 'fail' | 'hang';

/** A SIEM receiver on 127.0.0.1 that accepts, fails (500) or never answers, as the test says. */
async function receiver() {
  let mode: Mode = 'ok';
  const accepted: { seqs: number[]; tenant: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const attempts: number[] = [];
  const hanging: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const parsed = JSON.parse(body) as { tenant: string; events: { seq: number }[] };
      attempts.push(parsed.events[0]!.seq);
      if (mode === 'hang') return void hanging.push(res);
      if (mode === 'fail') return void res.writeHead(500).end('nope');
      accepted.push({ seqs: parsed.events.map((e) => e.seq), tenant: parsed.tenant, headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/siem`,
    accepted,
    attempts,
    set: (m: Mode) => void (mode = m),
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe.each(testDbKinds)('audit SIEM webhook sinks (%s)', (kind) => {
  let app: TestApp;
  let rx: Awaited<ReturnType<typeof receiver>>;
  const { record, deliver, sinkOf } = sinkKit(() => app);

  beforeAll(async () => {
    app = await startTestApp(kind);
    // The tests deliver themselves (with the clock they advance); the server's own audit-sinks job must not race them.
    await app.services.jobs.stop();
    rx = await receiver();
  });
  // Each test starts with no sink of another test due.
  afterEach(async () => {
    await app.services.db.auditSink.deleteMany({});
    rx.set('ok');
  });
  afterAll(async () => {
    await rx?.close();
    await app?.close();
  });

  it('delivers every event in order, signed with HMAC-SHA256 over timestamp and body', async () => {
    const t = await app.createTenant();
    await record(t, 0, 2); // before the sink: not delivered by default
    const sink = await addSink(app.services, t, { url: rx.url });
    expect(sink.secret).toMatch(/^[\w-]{43}$/);
    rx.accepted.length = 0;
    await record(t, 2, 150);
    expect(await deliver()).toMatchObject({ delivered: 150, failed: 0 });
    expect(rx.accepted.flatMap((a) => a.seqs)).toEqual([...Array(150).keys()].map((i) => i + 3));
    expect(rx.accepted.map((a) => a.seqs.length)).toEqual([100, 50]);
    for (const a of rx.accepted) {
      expect(a.tenant).toBe(t.slug);
      const ts = String(a.headers['x-sso-bridge-timestamp']);
      expect(Number(ts)).toBe(Math.floor(app.clock.now().getTime() / 1000));
      const expected = Buffer.from(`sha256=${createHmac('sha256', sink.secret!).update(`${ts}.${a.body}`).digest('hex')}`);
      expect(timingSafeEqual(Buffer.from(String(a.headers['x-sso-bridge-signature'])), expected)).toBe(true);
    }
    expect(await sinkOf(t, sink.id)).toMatchObject({ status: 'active', ackedSeq: 152, failures: 0 });
    expect(await removeSink(app.services, t, sink.id)).toEqual({ id: sink.id, removed: true });
    expect(await listSinks(t)).toEqual([]);
  });

  it('retries a receiver that fails and times out, with backoff, and resumes from the last acknowledged event', async () => {
    const t = await app.createTenant();
    const sink = await addSink(app.services, t, { url: rx.url, fromStart: true });
    rx.accepted.length = 0;
    await record(t, 0, 3); // seq 1..3
    expect((await deliver()).delivered).toBe(3);

    await record(t, 3, 2); // seq 4..5
    rx.set('fail');
    expect(await deliver()).toMatchObject({ delivered: 0, failed: 1 });
    expect(await sinkOf(t, sink.id)).toMatchObject({ ackedSeq: 3, failures: 1, lastError: 'HTTP 500' });
    // Not due yet: nothing is sent before the backoff delay.
    const attempts = rx.attempts.length;
    expect((await deliver()).sinks).toBe(0);
    expect(rx.attempts.length).toBe(attempts);

    rx.set('hang');
    app.clock.advance(sinkBackoffMs(1));
    expect(await deliver(300)).toMatchObject({ failed: 1 });
    expect(await sinkOf(t, sink.id)).toMatchObject({ ackedSeq: 3, failures: 2, lastError: expect.stringMatching(/timed out/) });

    // The receiver comes back; a new node (nothing in memory) picks up after the cursor.
    rx.set('ok');
    await record(t, 5, 1); // seq 6
    app.clock.advance(sinkBackoffMs(2));
    expect((await deliver()).delivered).toBe(3);
    expect(rx.accepted.flatMap((a) => a.seqs)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await sinkOf(t, sink.id)).toMatchObject({ ackedSeq: 6, failures: 0, lastError: null, status: 'active' });
  });

  it('one sender per sink: another node finds a sink claimed while a slow receiver outlasts the job lease', async () => {
    const t = await app.createTenant();
    const sink = await addSink(app.services, t, { url: rx.url, fromStart: true });
    rx.accepted.length = 0;
    rx.attempts.length = 0;
    await record(t, 0, 150); // two batches: 1–100, 101–150
    // Node B: other Services (nothing in memory shared) over the same database.
    const b = await createServices(app.config, { clock: app.clock, logger: pino({ level: 'silent' }), database: app.services.database });
    rx.set('hang');
    const onA = deliverAuditSinks(app.services, { timeoutMs: 1_500, maxFailures: 4 });
    await expect.poll(() => rx.attempts.length).toBe(1);
    // A's job lease (about 4 s) is long gone; B's job runs while A still waits for the receiver.
    app.clock.advance(4_000);
    expect(await deliverAuditSinks(b, { timeoutMs: 1_500, maxFailures: 4 })).toMatchObject({ sinks: 0, delivered: 0 });
    expect(rx.attempts).toEqual([1]);
    rx.set('ok');
    expect(await onA).toMatchObject({ failed: 1 });
    expect(await sinkOf(t, sink.id)).toMatchObject({ ackedSeq: 0, failures: 1 });
    // After the backoff either node may take it; each batch once, in order.
    app.clock.advance(sinkBackoffMs(1));
    expect((await deliverAuditSinks(b, { timeoutMs: 5_000 })).delivered).toBe(150);
    expect(rx.accepted.flatMap((a) => a.seqs)).toEqual([...Array(150).keys()].map((i) => i + 1));
    expect(await sinkOf(t, sink.id)).toMatchObject({ ackedSeq: 150, failures: 0, status: 'active' });
  });

  it('dead-letters a sink after too many failures, shows it, and resumes on retry', async () => {
    const t = await app.createTenant();
    const sink = await addSink(app.services, t, { url: rx.url, fromStart: true });
    await record(t, 0, 2);
    rx.set('fail');
    for (let n = 1; n <= 4; n++) {
      await deliver();
      app.clock.advance(sinkBackoffMs(n));
    }
    expect(await sinkOf(t, sink.id)).toMatchObject({ status: 'dead-letter', failures: 4, ackedSeq: 0 });
    app.clock.advance(3_600_000);
    expect((await deliver()).sinks).toBe(0); // dead letters are not attempted

    rx.set('ok');
    rx.accepted.length = 0;
    expect(await retrySink(app.services, t, sink.id)).toMatchObject({ status: 'active', failures: 0 });
    expect((await deliver()).delivered).toBe(2);
    expect(rx.accepted.flatMap((a) => a.seqs)).toEqual([1, 2]);
  });

  it("one tenant's sink that cannot be delivered for an unexpected reason (its secret unreadable) fails alone: the others are delivered", async () => {
    const [a, b] = [await app.createTenant(), await app.createTenant()];
    const broken = await addSink(app.services, a, { url: rx.url, fromStart: true });
    const healthy = await addSink(app.services, b, { url: rx.url, fromStart: true });
    // A's secret no longer opens (a corrupted row, or a master key gone from the keyring): its ciphertext altered.
    const row = await a.db.auditSink.findFirstOrThrow({ where: { id: broken.id } });
    const secret = await a.db.vaultSecret.findFirstOrThrow({ where: { id: row.secretId } });
    const ciphertext = Buffer.from(secret.ciphertext);
    ciphertext.writeUInt8(ciphertext.readUInt8(ciphertext.length - 1) ^ 0xff, ciphertext.length - 1);
    await a.db.vaultSecret.updateMany({ where: { id: secret.id }, data: { ciphertext } });
    await record(a, 0, 1);
    await record(b, 0, 2);
    rx.accepted.length = 0;
    for (let round = 0; round < 3; round++) {
      await deliver();
      app.clock.advance(sinkBackoffMs(round + 1));
    }
    expect(rx.accepted.map((x) => [x.tenant, x.seqs])).toEqual([[b.slug, [1, 2]]]);
    expect(await sinkOf(b, healthy.id)).toMatchObject({ status: 'active', failures: 0, ackedSeq: 2 });
    // The broken sink shows its failures (no secret in the message) and backs off like any failing receiver.
    const shown = await sinkOf(a, broken.id);
    expect(shown).toMatchObject({ status: 'active', failures: 3, ackedSeq: 0 });
    expect(shown.lastError).toMatch(/^internal error: \w+$/);
  });

  it("keeps tenants apart: a sink gets only its tenant's events, another tenant cannot see or touch it", async () => {
    const a = await app.createTenant();
    const b = await app.createTenant();
    const sink = await addSink(app.services, a, { url: rx.url, fromStart: true });
    rx.accepted.length = 0;
    await record(b, 0, 3);
    await record(a, 0, 1);
    await deliver();
    expect(rx.accepted.map((x) => [x.tenant, x.seqs])).toEqual([[a.slug, [1]]]);
    expect(await listSinks(b)).toEqual([]);
    await expect(retrySink(app.services, b, sink.id)).rejects.toThrow(/No audit sink/);
    await expect(removeSink(app.services, b, sink.id)).rejects.toThrow(/No audit sink/);
    expect(await listSinks(a)).toHaveLength(1);
  });

  it('refuses URLs that are not https (except to localhost), and short secrets', async () => {
    const t = await app.createTenant();
    for (const url of ['http://siem.example.com/in', 'ftp://127.0.0.1/x', 'https://user:pw@siem.example.com/', 'not a url', 'file:///etc/passwd']) {
      await expect(addSink(app.services, t, { url }), url).rejects.toThrow(/--url/);
    }
    await expect(addSink(app.services, t, { url: 'https://siem.example.com/', secret: 'short' })).rejects.toThrow(/32/);
    const given = await addSink(app.services, t, { url: 'https://siem.example.com/in', secret: 'x'.repeat(32) });
    expect(given.secret).toBeUndefined();
    expect(JSON.stringify(await listSinks(t))).not.toContain('x'.repeat(32));
  });
});
