import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { mcpUrl, obtainTokens } from '../oauth/support/oauth-client.js';
import { scimTenant, type ScimTenant } from './scim-client.js';

/**
 * Deprovisioning is all-or-nothing for the IdP: a revocation step killed in the middle (here the vault store, after
 * sessions ended and before OAuth grants did) leaves the user inactive AND the revocation pending; the IdP's retry of
 * the same request, or the revocation-retry job, finishes it.
 */
describe.each(testDbKinds)('SCIM deprovisioning when a revocation step fails (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(kind);
  });
  afterAll(() => app?.close());

  async function userHoldingEverything(s: ScimTenant, userName: string) {
    const u = await s.createUser(userName);
    const session = await app.services.sessions.create(s.t, { userId: u.id });
    await app.services.vault.put(s.t, { kind: 'user-credential', id: 'github', userId: u.id }, 'gho_upstream_token');
    const { tokens } = await obtainTokens(app, s.t, u.id);
    const at = tokens.body.access_token!;
    expect(await app.services.accessTokens.verify(s.t, at, mcpUrl(app, s.t))).not.toBeNull(); // cached on this node
    return { u, session, at };
  }

  const killVaultStepOnce = () => vi.spyOn(app.services.vault, 'removeForUser').mockRejectedValueOnce(new Error('killed mid-revocation'));

  async function expectHalfway(s: ScimTenant, userId: string, at: string) {
    const row = await s.t.db.user.findUnique({ where: { id: userId } });
    expect(row).toMatchObject({ active: false });
    expect(row!.pendingRevocation).toMatchObject({ reason: 'scim.deactivated' });
    // The step after the failed one did not run…
    expect(await s.t.db.vaultSecret.count({ where: { userId } })).toBe(1);
    expect(await s.t.db.oidcPayload.count({ where: { model: 'Grant', accountId: userId } })).toBe(1);
    // …but the stamp was written with the deactivation, so the token is already refused everywhere.
    expect(await app.services.accessTokens.verify(s.t, at, mcpUrl(app, s.t))).toBeNull();
  }

  async function expectRevoked(s: ScimTenant, userId: string, session: { token: string }) {
    expect((await s.t.db.user.findUnique({ where: { id: userId } }))?.pendingRevocation ?? null).toBeNull();
    expect(await s.t.db.vaultSecret.count({ where: { userId } })).toBe(0);
    expect(await s.t.db.oidcPayload.count({ where: { accountId: userId } })).toBe(0);
    expect(await app.services.sessions.resolve(s.t, session.token)).toBeNull();
    const audits = await s.t.db.auditEvent.findMany({ where: { action: 'user.revoke', targetId: userId } });
    expect(audits).toHaveLength(1);
  }

  it('fails the PATCH, and the IdP retrying the same PATCH completes the revocation', async () => {
    const s = await scimTenant(app);
    const { u, session, at } = await userHoldingEverything(s, 'leaver@example.com');
    killVaultStepOnce();

    const first = await s.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'active', value: false }]);
    expect(first.status).toBe(500);
    await expectHalfway(s, u.id, at);

    // Entra/Okta retry the failed request; the user is already inactive, so the patch itself changes nothing.
    const retry = await s.patch(`/Users/${u.id}`, [{ op: 'replace', path: 'active', value: false }]);
    expect(retry.status).toBe(200);
    await expectRevoked(s, u.id, session);
  });

  it('completes a revocation nobody retried from the revocation-retry job, once it is older than the grace period', async () => {
    const s = await scimTenant(app);
    const { u, session, at } = await userHoldingEverything(s, 'quiet-leaver@example.com');
    killVaultStepOnce();
    expect((await s.call('PUT', `/Users/${u.id}`, { schemas: [], userName: 'quiet-leaver@example.com', active: false })).status).toBe(500);
    await expectHalfway(s, u.id, at);

    expect(await app.services.revocation.completeAbandoned(app.services.db)).toBe(0); // still the request's own
    app.clock.advance(11_000);
    expect(await app.services.revocation.completeAbandoned(app.services.db)).toBe(1);
    await expectRevoked(s, u.id, session);
  });

  it('keeps the user of a failed DELETE so the retried DELETE revokes and then deletes', async () => {
    const s = await scimTenant(app);
    const { u, session } = await userHoldingEverything(s, 'deleted@example.com');
    killVaultStepOnce();
    expect((await s.call('DELETE', `/Users/${u.id}`)).status).toBe(500);
    expect(await s.t.db.user.count({ where: { id: u.id } })).toBe(1);
    expect((await s.call('DELETE', `/Users/${u.id}`)).status).toBe(204);
    expect(await s.t.db.user.count({ where: { id: u.id } })).toBe(0);
    expect(await s.t.db.vaultSecret.count({ where: { userId: u.id } })).toBe(0);
    expect(await app.services.sessions.resolve(s.t, session.token)).toBeNull();
  });

  it('leaves another tenant alone: a retry in tenant A does not touch a pending revocation of tenant B', async () => {
    const a = await scimTenant(app);
    const b = await scimTenant(app);
    const inB = await userHoldingEverything(b, 'b-user@example.com');
    killVaultStepOnce();
    expect((await b.patch(`/Users/${inB.u.id}`, [{ op: 'replace', path: 'active', value: false }])).status).toBe(500);
    // Tenant A's token cannot reach B's user, and A's retry of "the same" id is a 404.
    expect((await a.patch(`/Users/${inB.u.id}`, [{ op: 'replace', path: 'active', value: false }])).status).toBe(404);
    await expectHalfway(b, inB.u.id, inB.at);
  });
});
