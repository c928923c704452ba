import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ExportedEvent } from '../../src/audit/export-events.js';
import { sinkBackoffMs } from '../../src/audit/sinks/deliver-sinks.js';
import { addSink, removeSink } from '../../src/audit/sinks/manage-sinks.js';
import { cefRecord, syslogFrame } from '../../src/audit/sinks/syslog-sink.js';
import { createTestCa } from '../oauth/support/test-ca.js';
import { testDbKinds } from '../support/databases.js';
import { sinkKit } from './support/sink-kit.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

type Mode = 'ok' | 'reset' | 'hang';

/** Splits an octet-counted stream (RFC 6587 §3.4.1) into its messages; throws on a malformed frame. */
function unframe(stream: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < stream.length) {
    const space = stream.indexOf(0x20, at);
    const len = Number(stream.subarray(at, space).toString());
    if (space < 0 || !Number.isInteger(len) || len <= 0) throw new Error(`bad frame at ${at}`);
    out.push(stream.subarray(space + 1, space + 1 + len).toString('utf8'));
    at = space + 1 + len;
  }
  return out;
}

/** A syslog collector on 127.0.0.1 (TCP) that reads and closes, resets the connection, or never answers; it can go away and come back on its port. */
async function collector() {
  let mode: Mode = 'ok';
  const messages: string[] = [];
  let connections = 0;
  const hanging: net.Socket[] = [];
  const make = () =>
    net.createServer((socket) => {
      connections++;
      if (mode === 'reset') return void socket.resetAndDestroy();
      if (mode === 'hang') return void hanging.push(socket.pause());
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => {
        messages.push(...unframe(Buffer.concat(chunks)));
        socket.end();
      });
    });
  let server = make();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const stop = async () => {
    for (const s of hanging.splice(0)) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  return {
    url: `syslog://127.0.0.1:${port}`,
    messages,
    connections: () => connections,
    set: (m: Mode) => void (mode = m),
    stop,
    start: async () => {
      server = make();
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
  };
}

const seqOf = (message: string) => Number(/ cn1=(\d+)/.exec(message)?.[1]);
describe('CEF records and syslog frames', () => {
  const e: ExportedEvent = {
    seq: 7, id: 'aud_1', createdAt: '2026-03-01T10:00:00.000Z', actorKind: 'scim', actorId: 'stk_1', action: 'scim.user.create',
    targetKind: 'user', targetId: 'usr_1', outcome: 'failure', ip: '10.0.0.1', userAgent: 'Okta|SCIM=2\\x\nInjected: CEF:0|forged',
    requestId: null, detail: { note: 'a=b' }, hash: 'ab'.repeat(32),
  };

  it('escapes values so that one event stays one record with the fields it had', () => {
    const cef = cefRecord('acme', e);
    expect(cef).not.toMatch(/[\r\n]/);
    expect(cef.startsWith('CEF:0|SSO Bridge|sso-bridge|1|scim.user.create|scim.user.create|5|')).toBe(true);
    // `=` and `\` escaped in extension values, line breaks as \n: the user agent cannot start a field or a record.
    expect(cef).toContain('requestClientApplication=Okta|SCIM\\=2\\\\x\\nInjected: CEF:0|forged ');
    expect(cef).toContain('cs6={"note":"a\\=b"}');
    expect(cef).toContain(`cn1Label=seq cn1=7 cs3Label=hash cs3=${e.hash}`);
    expect(cef).not.toContain('cs5='); // absent values are left out
    const pipes = cefRecord('acme', { ...e, action: 'x|y\\z' }).split('CEF:0|')[1]!;
    expect(pipes).toContain('|x\\|y\\\\z|x\\|y\\\\z|');
  });

  it('frames an RFC 5424 message by octet count, facility log audit', () => {
    const frame = syslogFrame('acme', e, 'node-a');
    const [message] = unframe(frame);
    expect(message).toMatch(/^<108>1 2026-03-01T10:00:00\.000Z node-a sso-bridge - audit - CEF:0\|/);
    expect(unframe(syslogFrame('acme', { ...e, outcome: 'success', userAgent: 'ünïcode' }, 'node-a'))[0]).toMatch(/^<109>1 .*ünïcode/);
  });
});

describe.each(testDbKinds)('audit syslog sinks (%s)', (kind) => {
  let app: TestApp;
  let rx: Awaited<ReturnType<typeof collector>>;
  const { record, deliver, sinkOf } = sinkKit(() => app);

  beforeAll(async () => {
    app = await startTestApp(kind);
    // The tests deliver themselves (with the clock they advance); the server's own audit-sinks job must not race them.
    await app.services.jobs.stop();
    rx = await collector();
  });
  afterEach(async () => {
    await app.services.db.auditSink.deleteMany({});
    rx.set('ok');
  });
  afterAll(async () => {
    await rx?.stop();
    await app?.close();
  });

  it('delivers every event in order as CEF over syslog, and resumes after a collector that resets, hangs, goes away and comes back', async () => {
    const t = await app.createTenant();
    const sink = await addSink(app.services, t, { url: rx.url, fromStart: true });
    expect(sink).toMatchObject({ kind: 'syslog', url: rx.url, status: 'active' });
    expect(sink.secret).toBeUndefined();
    await record(t, 0, 150);
    expect(await deliver()).toMatchObject({ delivered: 150, failed: 0 });
    expect(rx.messages.map(seqOf)).toEqual([...Array(150).keys()].map((i) => i + 1));
    expect(rx.messages.every((m) => m.includes(`cs1=${t.slug} `))).toBe(true);
    expect(await sinkOf(t, sink.id)).toMatchObject({ ackedSeq: 150, failures: 0 });

    await record(t, 150, 2); // seq 151, 152
    rx.set('reset');
    expect(await deliver()).toMatchObject({ delivered: 0, failed: 1 });
    expect(await sinkOf(t, sink.id)).toMatchObject({ ackedSeq: 150, failures: 1, lastError: expect.stringMatching(/ECONNRESET|EPIPE/) });

    rx.set('hang');
    app.clock.advance(sinkBackoffMs(1));
    expect(await deliver(300)).toMatchObject({ failed: 1 });
    expect(await sinkOf(t, sink.id)).toMatchObject({ ackedSeq: 150, failures: 2, lastError: 'timed out after 300 ms' });

    await rx.stop();
    app.clock.advance(sinkBackoffMs(2));
    expect(await deliver()).toMatchObject({ failed: 1 });
    expect(await sinkOf(t, sink.id)).toMatchObject({ ackedSeq: 150, failures: 3, lastError: expect.stringMatching(/ECONNREFUSED/) });

    // The collector comes back: delivery resumes after the last acknowledged event, nothing skipped.
    rx.set('ok');
    await rx.start();
    await record(t, 152, 1); // seq 153
    app.clock.advance(sinkBackoffMs(3));
    expect((await deliver()).delivered).toBe(3);
    expect(rx.messages.map(seqOf).slice(150)).toEqual([151, 152, 153]);
    expect(await sinkOf(t, sink.id)).toMatchObject({ ackedSeq: 153, failures: 0, lastError: null, status: 'active' });
    expect(await removeSink(app.services, t, sink.id)).toEqual({ id: sink.id, removed: true });
  });

  it('speaks TLS to a syslog+tls:// collector and refuses one whose certificate it does not trust', async () => {
    const ca = createTestCa();
    const got: Buffer[] = [];
    const server = tls.createServer({ key: ca.key, cert: ca.cert }, (socket) => {
      socket.on('data', (c: Buffer) => got.push(c));
      socket.on('end', () => socket.end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const defaults = tls.getCACertificates('default');
    try {
      const t = await app.createTenant();
      const sink = await addSink(app.services, t, { url: `syslog+tls://127.0.0.1:${(server.address() as AddressInfo).port}`, fromStart: true });
      await record(t, 0, 2);
      expect(await deliver()).toMatchObject({ failed: 1 });
      expect((await sinkOf(t, sink.id)).lastError).toMatch(/CERT|certificate/i);
      expect(got).toEqual([]);

      // The operator's private CA (NODE_EXTRA_CA_CERTS in a deployment; in-process here).
      tls.setDefaultCACertificates([...defaults, readFileSync(ca.caFile, 'utf8')]);
      app.clock.advance(sinkBackoffMs(1));
      expect(await deliver()).toMatchObject({ delivered: 2, failed: 0 });
      expect(unframe(Buffer.concat(got)).map(seqOf)).toEqual([1, 2]);
    } finally {
      tls.setDefaultCACertificates(defaults);
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses plain syslog to another machine, paths, and a secret', async () => {
    const t = await app.createTenant();
    for (const url of ['syslog://siem.example.com:514', 'syslog://127.0.0.1', 'syslog+tls://siem.example.com/x', 'syslog+tls://u:p@siem.example.com']) {
      await expect(addSink(app.services, t, { url }), url).rejects.toThrow(/--url/);
    }
    await expect(addSink(app.services, t, { url: rx.url, secret: 'x'.repeat(40) })).rejects.toThrow(/webhook sinks only/);
    expect(await addSink(app.services, t, { url: 'syslog+tls://siem.example.com' })).toMatchObject({ kind: 'syslog', url: 'syslog+tls://siem.example.com' });
  });
});
