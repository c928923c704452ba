import { randomInt, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveEntraToken, ENTRA_TOKEN_OWNER, loadEntraToken } from '../../src/connectors/microsoft/entra-token-store.js';
import { microsoftRuntime } from '../../src/connectors/microsoft/microsoft-tokens.js';
import { runConnectorTool } from '../../src/connectors/tool-providers.js';
import { newId } from '../../src/lib/ids.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { Browser } from '../sso/support/browser.js';
import { cli, createUser } from '../mcp/support.js';
import { EntraFake, makeAppCertificate, trustTestCa, type EntraUser } from './support/entra-fake.js';

describe.each(testDbKinds)('Microsoft connector: add, credentials, Graph calls, token lifecycle (%s)', (kind) => {
  let app: TestApp;
  let entra: EntraFake;
  const tid = randomUUID();
  beforeAll(async () => {
    app = await startTestApp(kind);
    entra = await new EntraFake(() => app.clock.now()).start();
    trustTestCa(entra.ca);
    Object.assign(microsoftRuntime(app.services).retry, { baseDelayMs: 1, maxDelayMs: 1_500 });
  });
  afterAll(async () => {
    await entra?.close();
    await app?.close();
  });

  const hosts = () => ({ 'authority-host': entra.origin, 'graph-endpoint': entra.origin });
  const addIdp = (t: TenantCtx, extra: Record<string, unknown> = {}) =>
    cli(app, 'idp add-oidc', { tenant: t.slug, issuer: entra.issuer(tid), 'client-id': entra.clientId, 'client-secret': entra.clientSecret, name: 'Entra', 'allowed-domain': ['contoso.com'], ...extra }) as Promise<{ id: string }>;

  /** A tenant with the connector and a user whose Entra refresh token is stored (as SSO would have kept it). */
  // Digits only after the `u`: a hex suffix could spell a name the people lookups below search for (`…ada…`).
  async function signedInUser(t: TenantCtx, connId: string, email = `u${randomInt(1e9)}@contoso.com`) {
    const user = entra.addUser({ tid, email, name: email });
    const userId = await createUser(t, email, ['Staff']);
    const rt = `rt.seed.${randomUUID()}`;
    entra.refreshTokens.set(rt, { oid: user.oid, tid, clientId: entra.clientId, revoked: false });
    await saveEntraToken(app.services, t, userId, connId, { refreshToken: rt, tid, oid: user.oid, clientId: entra.clientId });
    return { user, userId, rt };
  }
  const call = (t: TenantCtx, userId: string, name: string, args: Record<string, unknown>) =>
    runConnectorTool(app.services, t, { userId, clientId: 'c1', signal: new AbortController().signal }, name, args);
  const text = (r: { content: unknown }) => JSON.stringify(r.content);

  it('add-microsoft refuses bad input and a secret Entra refuses; stores nothing then; clouds resolve to their hosts', { timeout: 120_000 }, async () => {
    const t = await app.createTenant();
    await addIdp(t);
    const base = { tenant: t.slug, 'client-id': entra.clientId };
    await expect(cli(app, 'connector add-microsoft', { ...base, 'client-id': 'not-a-guid', 'client-secret': entra.clientSecret, ...hosts() })).rejects.toThrow(/GUID/);
    await expect(cli(app, 'connector add-microsoft', { ...base, ...hosts() })).rejects.toThrow(/exactly one/);
    await expect(cli(app, 'connector add-microsoft', { ...base, 'client-secret': entra.clientSecret, certificate: 'x', ...hosts() })).rejects.toThrow(/exactly one/);
    await expect(cli(app, 'connector add-microsoft', { ...base, 'client-secret': entra.clientSecret, 'authority-host': entra.origin.replace('https', 'http'), 'graph-endpoint': entra.origin })).rejects.toThrow(/https/);
    await expect(cli(app, 'connector add-microsoft', { ...base, 'client-secret': entra.clientSecret, 'authority-host': `${entra.origin}/common`, 'graph-endpoint': entra.origin })).rejects.toThrow(/origin only/);
    await expect(cli(app, 'connector add-microsoft', { ...base, 'client-secret': entra.clientSecret, 'authority-host': entra.origin })).rejects.toThrow(/together/);
    await expect(cli(app, 'connector add-microsoft', { ...base, 'client-secret': entra.clientSecret, cloud: 'mars' })).rejects.toThrow(/--cloud/);
    await expect(cli(app, 'connector add-microsoft', { ...base, 'client-secret': 'wrong-secret-0123456789', ...hosts() })).rejects.toThrow(/refused the client secret/);
    expect(await t.db.connector.count()).toBe(0);
    expect(await t.db.vaultSecret.count({ where: { ownerKind: 'connector' } })).toBe(0);

    // A national cloud, in a tenant without an Entra connection yet: the check is skipped (no request), hosts are the cloud's.
    const gov = await app.createTenant();
    const out = await cli(app, 'connector add-microsoft', { tenant: gov.slug, 'client-id': entra.clientId, 'client-secret': entra.clientSecret, cloud: 'usgov' });
    expect(out).toMatchObject({ cloud: 'usgov', authorityHost: 'https://login.microsoftonline.us', graphEndpoint: 'https://graph.microsoft.us', credentialCheck: { result: 'skipped' } });
    expect((out.appRegistration as { delegatedGraphPermissions: string[] }).delegatedGraphPermissions).toEqual(expect.arrayContaining(['Mail.Read', 'Mail.Send', 'GroupMember.Read.All']));
    const listed = JSON.stringify(await cli(app, 'connector list', { tenant: gov.slug }));
    expect(listed).not.toContain(entra.clientSecret);
    // Tools arrive unapproved.
    expect(await gov.db.tool.count({ where: { name: { startsWith: 'microsoft__' }, approved: true } })).toBe(0);
    expect(await gov.db.tool.count({ where: { name: 'microsoft__mail_send_draft' } })).toBe(1);
  });

  it('a certificate credential signs client assertions (x5t#S256) for refresh and OBO; connector test reports it', { timeout: 120_000 }, async () => {
    const t = await app.createTenant();
    const conn = await addIdp(t);
    const { pem, cert } = makeAppCertificate();
    await expect(cli(app, 'connector add-microsoft', { tenant: t.slug, 'client-id': entra.clientId, certificate: pem, ...hosts() })).rejects.toThrow(/refused the certificate/);
    entra.certificates.push(cert);
    const out = await cli(app, 'connector add-microsoft', { tenant: t.slug, 'client-id': entra.clientId, certificate: pem, ...hosts() });
    expect(out).toMatchObject({ credential: { kind: 'certificate', thumbprintSha256: cert.fingerprint256.replaceAll(':', '').toLowerCase() }, credentialCheck: { result: 'accepted' } });
    expect(JSON.stringify(await cli(app, 'connector list', { tenant: t.slug }))).not.toContain('PRIVATE KEY');
    const tested = await cli(app, 'connector test', { tenant: t.slug });
    expect(tested).toMatchObject({ ok: true, credential: { result: 'accepted', tenant: tid }, signInConnections: [{ id: conn.id, entraTenant: tid }] });

    const { user, userId } = await signedInUser(t, conn.id);
    entra.grantConsent(tid, ['Mail.Read']);
    entra.addMessage(user.oid, { id: 'm1', from: 'x@contoso.com', to: user.email, subject: 'Cert mail', body: 'b', received: '2026-12-01T00:00:00Z' });
    const n = entra.tokenRequests.length;
    const res = await call(t, userId, 'microsoft__mail_search', { query: 'cert' });
    expect(res.isError).toBeFalsy();
    expect(entra.tokenRequests.slice(n).map((r) => r.clientAuth)).toEqual(['private_key_jwt', 'private_key_jwt']);
  });

  it('Graph: 429 Retry-After honoured; a longer Retry-After is reported; paging by nextLink, never to another host; ids cannot climb paths', { timeout: 120_000 }, async () => {
    const t = await app.createTenant();
    const conn = await addIdp(t);
    await cli(app, 'connector add-microsoft', { tenant: t.slug, 'client-id': entra.clientId, 'client-secret': entra.clientSecret, ...hosts() });
    const { user, userId } = await signedInUser(t, conn.id);
    entra.grantConsent(tid, ['Mail.Read']);
    for (let i = 1; i <= 5; i++) entra.addMessage(user.oid, { id: `p${i}`, from: 'x@contoso.com', to: user.email, subject: `Report ${i}`, body: 'report', received: '2026-12-01T00:00:00Z' });

    entra.throttle = { count: 1, retryAfter: '1' };
    const first = await call(t, userId, 'microsoft__mail_search', { query: 'report', maxResults: 2 });
    expect(first.isError).toBeFalsy();
    const mine = () => entra.graphRequests.filter((r) => r.oid === user.oid);
    expect(mine()).toHaveLength(2); // the throttled one, then the retry
    const page1 = first.structuredContent as { messages: { id: string }[]; nextLink: string };
    expect(page1.messages.map((m) => m.id)).toEqual(['p1', 'p2']);
    expect(page1.nextLink.startsWith(`${entra.origin}/v1.0/me/messages?`)).toBe(true);
    const page2 = (await call(t, userId, 'microsoft__mail_search', { query: 'report', maxResults: 2, nextLink: page1.nextLink })).structuredContent as { messages: { id: string }[] };
    expect(page2.messages.map((m) => m.id)).toEqual(['p3', 'p4']);

    entra.throttle = { count: 5, retryAfter: '120' };
    const slow = await call(t, userId, 'microsoft__mail_search', { query: 'report' });
    expect(slow.isError).toBe(true);
    expect(text(slow)).toMatch(/throttling.*Retry in about 120 s/);
    entra.throttle = { count: 0, retryAfter: '1' };

    // A nextLink naming another host would carry the user's Graph token there: refused before any request.
    const before = entra.graphRequests.length;
    const evil = await call(t, userId, 'microsoft__mail_search', { query: 'report', nextLink: 'https://evil.example/v1.0/me/messages?$skiptoken=2' });
    expect(evil.isError).toBe(true);
    expect(text(evil)).toMatch(/another host/);
    const sameHostOtherPath = await call(t, userId, 'microsoft__mail_search', { query: 'report', nextLink: `${entra.origin}/${tid}/oauth2/v2.0/token` });
    expect(sameHostOtherPath.isError).toBe(true);
    expect(entra.graphRequests.length).toBe(before);
    for (const messageId of ['..', '.', 'a b', 'a?b', 'a#b']) {
      const r = await call(t, userId, 'microsoft__mail_read', { messageId });
      expect(r.isError, messageId).toBe(true);
      expect(text(r)).toMatch(/Invalid arguments/);
    }
    expect(entra.graphRequests.length).toBe(before);
    // Slashes (legal in Outlook ids) travel encoded inside the one path segment: no climbing to /users.
    expect((await call(t, userId, 'microsoft__mail_read', { messageId: '../../users' })).isError).toBe(true);
    expect(entra.graphRequests.at(-1)!.path).toBe('/v1.0/me/messages/..%2F..%2Fusers?%24select=id%2CconversationId%2Csubject%2Cfrom%2CtoRecipients%2CreceivedDateTime%2CbodyPreview%2CisRead%2ChasAttachments%2CwebLink%2CccRecipients%2Cbody');
  });

  it('an expired refresh token → "sign in again" and the stored token is deleted; no stored token → sign-in link; cross-tenant users find nothing', { timeout: 120_000 }, async () => {
    const t = await app.createTenant();
    const conn = await addIdp(t);
    await cli(app, 'connector add-microsoft', { tenant: t.slug, 'client-id': entra.clientId, 'client-secret': entra.clientSecret, ...hosts() });
    entra.grantConsent(tid, ['Mail.Read']);
    const { userId, rt } = await signedInUser(t, conn.id);
    entra.refreshTokens.get(rt)!.revoked = true;
    const expired = await call(t, userId, 'microsoft__mail_search', { query: 'x' });
    expect(expired.isError).toBe(true);
    expect(text(expired)).toMatch(/expired or was revoked/);
    expect(text(expired)).toContain(`/t/${t.slug}/oidc/login?connection=${conn.id}`);
    expect(await loadEntraToken(app.services, t, userId)).toBeNull();
    const n = entra.tokenRequests.length;
    const again = await call(t, userId, 'microsoft__mail_search', { query: 'x' });
    expect(text(again)).toMatch(/need your Microsoft sign-in/);
    expect(entra.tokenRequests.length).toBe(n);

    // Another tenant with its own connector: a user id of this tenant has no token there, and its vault rows are not visible.
    const other = await app.createTenant();
    await addIdp(other);
    await cli(app, 'connector add-microsoft', { tenant: other.slug, 'client-id': entra.clientId, 'client-secret': entra.clientSecret, ...hosts() });
    const { userId: victim } = await signedInUser(t, conn.id);
    const cross = await call(other, victim, 'microsoft__mail_search', { query: 'x' });
    expect(cross.isError).toBe(true);
    expect(text(cross)).toMatch(/need your Microsoft sign-in/);
    expect(await loadEntraToken(app.services, other, victim)).toBeNull();
    // A tenant without the connector: the tool is refused outright.
    const bare = await app.createTenant();
    expect(text(await call(bare, victim, 'microsoft__mail_search', { query: 'x' }))).toMatch(/connector was removed/);

    // connector remove (disconnect) deletes every stored Entra token of the tenant, and only that tenant's.
    expect(await t.db.vaultSecret.count({ where: { ownerKind: ENTRA_TOKEN_OWNER } })).toBe(1);
    const { userId: otherUser } = await signedInUser(other, (await other.db.idpConnection.findFirst())!.id);
    await cli(app, 'connector remove', { tenant: t.slug });
    expect(await t.db.vaultSecret.count({ where: { ownerKind: ENTRA_TOKEN_OWNER } })).toBe(0);
    expect(await loadEntraToken(app.services, other, otherUser)).not.toBeNull();
    // idp remove deletes the tokens captured through that connection.
    await cli(app, 'idp remove', { tenant: other.slug, id: (await other.db.idpConnection.findFirst())!.id });
    expect(await loadEntraToken(app.services, other, otherUser)).toBeNull();
  });

  it('SSO with a groups overage: memberships come from Graph (/me/transitiveMemberOf, paged); without the connector no API scope is asked', { timeout: 120_000 }, async () => {
    const t = await app.createTenant();
    await addIdp(t, { 'no-jit': true });
    const plain = new Browser();
    const early: EntraUser = entra.addUser({ tid, email: 'early@contoso.com', name: 'Early' });
    await createUser(t, 'early@contoso.com');
    entra.nextUser = early.oid;
    await plain.follow(`${app.url}/t/${t.slug}/oidc/login`);
    expect(entra.lastAuthorizeScope.split(' ')).not.toContain('offline_access');
    expect(entra.lastAuthorizeScope).not.toContain('access_as_user');

    await cli(app, 'connector add-microsoft', { tenant: t.slug, 'client-id': entra.clientId, 'client-secret': entra.clientSecret, ...hosts() });
    entra.grantConsent(tid, ['GroupMember.Read.All']);
    const groups = Array.from({ length: 250 }, () => randomUUID());
    const many = entra.addUser({ tid, email: 'many@contoso.com', name: 'Many', groups });
    const manyId = await createUser(t, 'many@contoso.com');
    const gid = newId('grp');
    await t.db.group.create({ data: { id: gid, tenantId: t.id, displayName: groups[237]!, displayNameKey: groups[237]!, idpKey: groups[237]!, source: 'idp' } });
    entra.nextUser = many.oid;
    const { res } = await new Browser().follow(`${app.url}/t/${t.slug}/oidc/login`);
    expect(res.status).toBe(200);
    expect(entra.lastAuthorizeScope.split(' ')).toEqual(expect.arrayContaining([`api://${entra.clientId}/access_as_user`, 'offline_access']));
    expect(await t.db.groupMembership.count({ where: { userId: manyId, groupId: gid } })).toBe(1);
    expect(entra.graphRequests.filter((r) => r.oid === many.oid && r.path.startsWith('/v1.0/me/transitiveMemberOf'))).toHaveLength(3);
    expect(await loadEntraToken(app.services, t, manyId)).toMatchObject({ oid: many.oid, tid });

    // Entra's back-channel logout for that user ends the session and deletes the stored token.
    const bcl = await fetch(`${app.url}/t/${t.slug}/oidc/backchannel-logout`, { method: 'POST', body: new URLSearchParams({ logout_token: await entra.logoutToken(many) }) });
    expect(bcl.status).toBe(200);
    expect(await loadEntraToken(app.services, t, manyId)).toBeNull();

    // A login link's `claims` goes to Entra only as a bounded JSON object (the Microsoft tools' claims challenge).
    entra.nextUser = many.oid;
    const wanted = '{"id_token":{"acrs":{"essential":true,"value":"c1"}}}';
    await new Browser().follow(`${app.url}/t/${t.slug}/oidc/login?claims=${encodeURIComponent(wanted)}`);
    expect(entra.lastAuthorizeClaims).toBe(wanted);
    for (const hostile of ['[1]', 'not json', '"str"', 'null', `{"a":"${'x'.repeat(3000)}"}`]) {
      entra.nextUser = many.oid;
      await new Browser().follow(`${app.url}/t/${t.slug}/oidc/login?claims=${encodeURIComponent(hostile)}`);
      expect(entra.lastAuthorizeClaims, hostile).toBeNull();
    }
  });
  it('mail draft (new and reply) and send, files search and read, people lookup: Graph as the user, audited without contents', { timeout: 120_000 }, async () => {
    const t = await app.createTenant();
    const conn = await addIdp(t);
    await cli(app, 'connector add-microsoft', { tenant: t.slug, 'client-id': entra.clientId, 'client-secret': entra.clientSecret, ...hosts() });
    const { user, userId } = await signedInUser(t, conn.id);
    entra.grantConsent(tid, ['Mail.Read', 'Mail.ReadWrite', 'Mail.Send', 'Files.Read.All', 'Sites.Read.All', 'User.Read.All']);
    entra.addMessage(user.oid, { id: 'q1', from: 'boss@contoso.com', to: user.email, subject: 'Quarterly numbers', body: 'SECRET-BODY-TEXT', received: '2026-12-01T00:00:00Z' });

    const created = await call(t, userId, 'microsoft__mail_create_draft', { to: ['x@contoso.com'], subject: 'Hi', body: 'Hello there' });
    expect(created.structuredContent).toMatchObject({ draftId: expect.stringMatching(/^draft-/) });
    expect(text(await call(t, userId, 'microsoft__mail_create_draft', { body: 'no recipients' }))).toMatch(/at least one recipient/);
    const reply = await call(t, userId, 'microsoft__mail_create_draft', { replyToMessageId: 'q1', body: 'Thanks!', replyAll: true });
    expect(reply.structuredContent).toMatchObject({ draftId: 'draft-re-q1', conversationId: 'conv-q1' });
    expect(entra.drafts.at(-1)).toMatchObject({ oid: user.oid, kind: 'createReplyAll', body: { comment: 'Thanks!' } });
    expect(await call(t, userId, 'microsoft__mail_send_draft', { draftId: 'draft-re-q1' })).toMatchObject({ structuredContent: { sent: true } });
    expect(entra.graphRequests.at(-1)).toMatchObject({ method: 'POST', path: '/v1.0/me/messages/draft-re-q1/send', oid: user.oid });
    const read = await call(t, userId, 'microsoft__mail_read', { messageId: 'q1', maxChars: 100 });
    expect(read.structuredContent).toMatchObject({ subject: 'Quarterly numbers', body: 'SECRET-BODY-TEXT', bodyTruncated: false });

    entra.files.set('f1', { id: 'f1', driveId: 'b!drive1', oid: user.oid, name: 'notes.md', mimeType: 'text/markdown', content: '# Plan\nship it' });
    entra.files.set('f2', { id: 'f2', driveId: 'b!drive1', oid: user.oid, name: 'notes.docx', mimeType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', content: 'PK' });
    const found = await call(t, userId, 'microsoft__files_search', { query: 'notes' });
    expect((found.structuredContent as { files: { id: string; driveId: string }[] }).files).toEqual([expect.objectContaining({ id: 'f1', driveId: 'b!drive1' }), expect.objectContaining({ id: 'f2' })]);
    expect(await call(t, userId, 'microsoft__files_read', { driveId: 'b!drive1', itemId: 'f1' })).toMatchObject({ structuredContent: { text: '# Plan\nship it', truncated: false } });
    const docx = await call(t, userId, 'microsoft__files_read', { driveId: 'b!drive1', itemId: 'f2' });
    expect(docx.isError).toBe(true);
    expect(text(docx)).toMatch(/not a text file; open it at https:\/\/contoso\.sharepoint\.com\/notes\.docx/);

    const boss = entra.addUser({ tid, email: 'grace@contoso.com', name: 'Grace Hopper', jobTitle: 'CTO' });
    entra.addUser({ tid, email: 'ada@contoso.com', name: 'Ada Lovelace', jobTitle: 'Engineer', manager: boss.oid });
    const people = await call(t, userId, 'microsoft__people_lookup', { query: 'Ada' });
    expect(people.structuredContent).toMatchObject({ people: [{ name: 'Ada Lovelace', mail: 'ada@contoso.com', jobTitle: 'Engineer', manager: 'Grace Hopper <grace@contoso.com>' }] });
    expect((await call(t, userId, 'microsoft__people_lookup', { query: 'Grace' })).structuredContent).toMatchObject({ people: [{ name: 'Grace Hopper', manager: null }] });

    await app.services.audit.flush();
    const rows = await t.db.auditEvent.findMany({ where: { action: 'connector.microsoft.call' } });
    expect(rows.length).toBeGreaterThanOrEqual(9);
    expect(JSON.stringify(rows)).not.toMatch(/SECRET-BODY-TEXT|Hello there|ship it|Thanks!/);
    expect(rows.map((r) => (r.detail as { tool: string }).tool)).toEqual(expect.arrayContaining(['microsoft__mail_send_draft', 'microsoft__files_read', 'microsoft__people_lookup']));
  });
});
