import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addClient } from '../../src/oauth/manage-clients.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { USER } from './scim-client.js';

describe.each(testDbKinds)('SCIM with OAuth 2.0 client-credentials tokens (Entra gallery) (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  async function machineToken(t: TenantCtx): Promise<{ token: string; clientId: string }> {
    const client = await addClient(app.services, t, { name: 'Entra provisioning', redirectUris: [], scim: true });
    const res = await fetch(`${app.url}/t/${t.slug}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret! }),
    });
    const body = (await res.json()) as { access_token: string };
    expect(res.status).toBe(200);
    return { token: body.access_token, clientId: client.client_id };
  }

  it('accepts a scim-scoped token for this tenant, audits the client, refuses it on another tenant', async () => {
    const a = await app.createTenant();
    const b = await app.createTenant();
    const { token, clientId } = await machineToken(a);
    // Token issuance is counted in /metrics by grant type.
    expect(await app.services.metrics.registry.getSingleMetricAsString('sso_bridge_tokens_issued_total')).toMatch(/grant_type="client_credentials"\} [1-9]/);
    const res = await fetch(`${app.url}/t/${a.slug}/scim/v2/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({ schemas: [USER], userName: 'entra-gallery@example.com' }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const event = await a.db.auditEvent.findFirst({ where: { action: 'scim.user.create', targetId: id } });
    expect(event).toMatchObject({ actorKind: 'oauth-client', actorId: clientId });
    const other = await fetch(`${app.url}/t/${b.slug}/scim/v2/Users`, { headers: { authorization: `Bearer ${token}` } });
    expect(other.status).toBe(401);
  });
});
