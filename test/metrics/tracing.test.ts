import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { tracingOn } from '../../src/metrics/tracing.js';
import { callTool } from '../../src/tools/call-tool.js';
import { startTestApp } from '../support/test-app.js';
import { scimTenant } from '../scim/scim-client.js';

interface OtlpSpan {
  name: string;
  attributes: { key: string; value: { stringValue?: string; intValue?: number | string } }[];
}

/** A local OTLP/HTTP receiver: collects the spans of every JSON export request. */
async function otlpReceiver() {
  const spans: OtlpSpan[] = [];
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(req.url ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, paths, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined);
};

describe('OpenTelemetry tracing (OTLP/HTTP, only when configured)', () => {
  it('exports spans of the SCIM, SSO, token and tool-call paths to OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const receiver = await otlpReceiver();
    const app = await startTestApp('pglite', { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    try {
      expect(tracingOn).toBe(true);
      const s = await scimTenant(app);
      const u = await s.createUser('traced@example.com');
      await fetch(`${app.url}/t/${s.t.slug}/login`, { redirect: 'manual' });
      await fetch(`${app.url}/t/${s.t.slug}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
      const result = await callTool(app.services, s.t, { userId: u.id, clientId: 'c1', signal: new AbortController().signal }, 'whoami', {});
      expect(result.isError).toBeFalsy();
    } finally {
      await app.close(); // flushes pending spans
      await receiver.close();
    }
    expect(tracingOn).toBe(false);
    expect(receiver.paths.every((p) => p === '/v1/traces')).toBe(true);
    const names = receiver.spans.map((x) => x.name);
    const scim = receiver.spans.find((x) => x.name === 'scim POST')!;
    expect(attr(scim, 'http.response.status_code')).toBe(201);
    expect(names).toContain('sso GET');
    expect(names).toContain('oauth POST');
    const tool = receiver.spans.find((x) => x.name === 'mcp tools/call')!;
    expect(attr(tool, 'mcp.tool.name')).toBe('whoami');
  });

  it('is off without the variable: no provider, nothing exported', async () => {
    const app = await startTestApp('pglite');
    try {
      expect(tracingOn).toBe(false);
    } finally {
      await app.close();
    }
  });
});
