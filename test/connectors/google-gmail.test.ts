import { describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { cli, connect, createUser, type FakeVerifier } from '../mcp/support.js';
import { allGoogleScopes } from '../../src/connectors/google/google-scopes.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import type { GoogleFake } from './support/google-fake.js';
import { useGoogleApp } from './support/google-env.js';

describe.each(testDbKinds)('Google Gmail tools through the MCP endpoint (%s)', (kind) => {
  let app: TestApp;
  let verifier: FakeVerifier;
  let google: GoogleFake;
  useGoogleApp(kind, (a, v, g) => {
    app = a;
    verifier = v;
    google = g;
  });

  /** A tenant with a Google connector (every scope delegated), the Gmail tools approved for everyone. */
  async function setup(tools = ['google__gmail_search', 'google__gmail_read', 'google__gmail_create_draft', 'google__gmail_send_draft', 'google__gmail_list_labels']) {
    const t = await app.createTenant();
    const sa = google.serviceAccount(t.slug);
    google.delegate(sa.clientId, allGoogleScopes());
    google.users.add('admin@acme.com');
    await cli(app, 'connector add-google', { tenant: t.slug, 'service-account': sa.keyFile, 'admin-email': 'admin@acme.com', 'api-root': google.url });
    for (const tool of tools) await cli(app, 'tool approve', { tenant: t.slug, tool });
    return { t, sa };
  }

  async function asUser(t: TenantCtx, email: string, groups: string[] = []) {
    const userId = await createUser(t, email, groups);
    google.users.add(email.toLowerCase());
    const connected = await connect(app, t, verifier.issue(t, userId));
    // listTools first: the SDK client then validates every structuredContent against the tool's outputSchema.
    await connected.client.listTools();
    return { userId, ...connected };
  }

  it('lists the approved Google tools with output schemas and honest annotations; search returns only the caller\'s own mail', async () => {
    const { t } = await setup();
    google.addMessage('alice@acme.com', { id: 'a1', from: 'carol@acme.com', to: 'alice@acme.com', subject: 'Quarterly plan', body: 'Plan attached', attachment: { filename: 'plan.pdf', mimeType: 'application/pdf', size: 1234 } });
    google.addMessage('bob@acme.com', { id: 'b1', from: 'carol@acme.com', to: 'bob@acme.com', subject: 'Quarterly plan for Bob', body: 'Secret for Bob' });
    const { client } = await asUser(t, 'alice@acme.com');
    const listed = (await client.listTools()).tools;
    const search = listed.find((x) => x.name === 'google__gmail_search')!;
    expect(search.outputSchema).toMatchObject({ type: 'object', required: ['messages', 'nextPageToken'] });
    expect(search.annotations).toEqual({ readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true });
    expect(listed.find((x) => x.name === 'google__gmail_send_draft')!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });

    const before = google.tokenRequests.length;
    const res = await client.callTool({ name: 'google__gmail_search', arguments: { query: 'quarterly' } });
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent).toEqual({
      messages: [{ id: 'a1', threadId: 'a1', from: 'carol@acme.com', to: 'alice@acme.com', subject: 'Quarterly plan', date: 'Mon, 1 Dec 2026 09:00:00 +0000', snippet: 'Plan attached', labelIds: ['INBOX'] }],
      nextPageToken: null,
    });
    expect(JSON.stringify(res)).not.toContain('Bob');
    // Impersonated as Alice (DWD sub), with only the tool's scope.
    expect(google.tokenRequests.slice(before)).toEqual([{ sub: 'alice@acme.com', scope: 'https://www.googleapis.com/auth/gmail.readonly', iss: expect.any(String) }]);

    const read = await client.callTool({ name: 'google__gmail_read', arguments: { messageId: 'a1' } });
    expect(read.structuredContent).toMatchObject({ messages: [{ id: 'a1', body: 'Plan attached', bodyTruncated: false, attachments: [{ filename: 'plan.pdf', mimeType: 'application/pdf', size: 1234 }] }] });
    // The same token (same user, same scope set) is reused: no second token request.
    expect(google.tokenRequests.length).toBe(before + 1);
    // Bob's message id does not exist in Alice's mailbox.
    const foreign = await client.callTool({ name: 'google__gmail_read', arguments: { messageId: 'b1' } });
    expect(foreign).toMatchObject({ isError: true });
    expect(JSON.stringify(foreign)).not.toContain('Secret');
    await client.close();
  });

  it('pages with nextPageToken, reads threads, lists labels, drafts and sends as the caller', async () => {
    const { t } = await setup();
    for (let i = 0; i < 3; i++) google.addMessage('dana@acme.com', { id: `d${i}`, threadId: 'thr', from: 'x@acme.com', to: 'dana@acme.com', subject: `Report ${i}`, body: `Body ${i}` });
    const { client } = await asUser(t, 'dana@acme.com');
    const first = await client.callTool({ name: 'google__gmail_search', arguments: { query: 'report', maxResults: 2 } });
    const page1 = first.structuredContent as { messages: { id: string }[]; nextPageToken: string };
    expect(page1.messages.map((m) => m.id)).toEqual(['d0', 'd1']);
    const second = await client.callTool({ name: 'google__gmail_search', arguments: { query: 'report', maxResults: 2, pageToken: page1.nextPageToken } });
    expect(second.structuredContent).toMatchObject({ messages: [{ id: 'd2' }], nextPageToken: null });

    const thread = await client.callTool({ name: 'google__gmail_read', arguments: { threadId: 'thr', maxChars: 100 } });
    expect((thread.structuredContent as { messages: unknown[] }).messages).toHaveLength(3);
    const labels = await client.callTool({ name: 'google__gmail_list_labels', arguments: {} });
    expect(labels.structuredContent).toEqual({ labels: [{ id: 'INBOX', name: 'INBOX', type: 'system' }, { id: 'Label_1', name: 'Customers', type: 'user' }] });

    const draft = await client.callTool({ name: 'google__gmail_create_draft', arguments: { to: ['x@acme.com'], subject: 'Re: Report ✓', body: 'Thanks!', replyToMessageId: 'd0' } });
    expect(draft.isError, JSON.stringify(draft.content)).toBeFalsy();
    const { draftId, threadId } = draft.structuredContent as { draftId: string; threadId: string };
    expect(threadId).toBe('thr');
    const stored = google.drafts.get(draftId)!;
    expect(stored.owner).toBe('dana@acme.com');
    const mime = Buffer.from(stored.raw, 'base64url').toString('utf8');
    expect(mime).toContain('To: x@acme.com');
    expect(mime).toContain('In-Reply-To: <d0@mail.example.com>');
    expect(mime).toContain('Subject: =?UTF-8?B?');
    const sent = await client.callTool({ name: 'google__gmail_send_draft', arguments: { draftId } });
    expect(sent.structuredContent).toEqual({ messageId: `m${draftId}`, threadId: 'thr' });
    expect(google.drafts.get(draftId)!.sent).toBe(true);
    await client.close();
  });

  it('refuses hostile or malformed arguments before Google is called', async () => {
    const { t } = await setup();
    const { client } = await asUser(t, 'eve@acme.com');
    const calls = google.apiRequests.length;
    const bad: [string, Record<string, unknown>][] = [
      ['google__gmail_create_draft', { to: ['x@acme.com'], subject: 'Hi\r\nBcc: victim@evil.example', body: 'x' }],
      ['google__gmail_create_draft', { to: ['x@acme.com'], subject: 'Hi\nX-Evil: 1', body: 'x' }],
      ['google__gmail_create_draft', { to: ['x@acme.com\r\nBcc: victim@evil.example'], subject: 'Hi', body: 'x' }],
      ['google__gmail_create_draft', { to: [], subject: 'Hi', body: 'x' }],
      ['google__gmail_create_draft', { to: ['x@acme.com'], subject: 'Hi', body: 'x', extra: true }],
      ['google__gmail_search', { query: '' }],
      ['google__gmail_search', { query: 'a', maxResults: 5000 }],
      ['google__gmail_search', {}],
      ['google__gmail_read', { messageId: '../../users/bob@acme.com/messages/b1' }],
      ['google__gmail_read', {}],
      ['google__gmail_read', { messageId: 'a', threadId: 'b' }],
      ['google__gmail_send_draft', { draftId: 'x?alt=media' }],
    ];
    for (const [name, args] of bad) {
      const res = await client.callTool({ name, arguments: args });
      expect(res.isError, `${name} ${JSON.stringify(args)}`).toBe(true);
    }
    expect(google.apiRequests.length).toBe(calls);
    expect([...google.drafts.values()].filter((d) => d.owner === 'eve@acme.com')).toEqual([]);
    await client.close();
  });

  it('a user outside the connector domains, without an e-mail, or unknown to Google gets a clear tool error, never another user\'s data', async () => {
    const { t } = await setup();
    google.addMessage('mallory@evil.example', { id: 'm1', from: 'x', to: 'y', subject: 'evil inbox', body: 'x' });
    const outsider = await asUser(t, 'mallory@evil.example');
    const calls = google.tokenRequests.length;
    const res = await outsider.client.callTool({ name: 'google__gmail_search', arguments: { query: 'evil' } });
    expect(res).toMatchObject({ isError: true });
    expect(JSON.stringify(res.content)).toMatch(/not in this organisation's Google Workspace domains \(acme\.com\)/);
    // Look-alike domains are not the connector's domain either.
    const lookalike = await asUser(t, 'mallory@evilacme.com');
    expect(await lookalike.client.callTool({ name: 'google__gmail_search', arguments: { query: 'x' } })).toMatchObject({ isError: true });
    const sub = await asUser(t, 'mallory@sub.acme.com');
    expect(await sub.client.callTool({ name: 'google__gmail_search', arguments: { query: 'x' } })).toMatchObject({ isError: true });
    // Suffix and hyphen look-alikes, and a plus address of a real colleague: never mapped to anyone (not even alice).
    google.addMessage('alice@acme.com', { id: 'al1', from: 'x', to: 'alice@acme.com', subject: 'alice private', body: 'x' });
    const tricks = [];
    for (const email of ['alice@acme.com.evil.com', 'alice@evil-acme.com', 'alice+ceo@acme.com']) {
      const c = await asUser(t, email);
      const r = await c.client.callTool({ name: 'google__gmail_search', arguments: { query: 'alice' } });
      expect(r, email).toMatchObject({ isError: true });
      expect(JSON.stringify(r)).not.toContain('alice private');
      tricks.push(c);
    }
    expect(google.tokenRequests.length).toBe(calls);
    expect(google.apiRequests.some((r) => r.sub !== 'alice@acme.com' && r.sub.startsWith('alice'))).toBe(false);
    // Case is not identity: an upper-case e-mail is the same Workspace account, lower-cased for Google.
    const upper = await asUser(t, 'Alice@ACME.com');
    const own = await upper.client.callTool({ name: 'google__gmail_search', arguments: { query: 'alice' } });
    expect(own.structuredContent).toMatchObject({ messages: [{ id: 'al1' }] });
    expect(google.tokenRequests.at(-1)).toMatchObject({ sub: 'alice@acme.com' });
    for (const c of [...tricks, upper]) await c.client.close();

    const ghostId = await createUser(t, 'ghost@acme.com'); // not in Google's directory
    const ghost = await connect(app, t, verifier.issue(t, ghostId));
    const unknown = await ghost.client.callTool({ name: 'google__gmail_search', arguments: { query: 'x' } });
    expect(JSON.stringify(unknown.content)).toMatch(/Google does not know your account/);
    for (const c of [outsider, lookalike, sub, ghost]) await c.client.close();
  });

  it('another tenant\'s user cannot reach this tenant\'s connector; without a connector the tools do not exist', async () => {
    const { t } = await setup();
    google.addMessage('frank@acme.com', { id: 'f1', from: 'x', to: 'frank@acme.com', subject: 'tenant A mail', body: 'x' });
    const other = await app.createTenant();
    const { client } = await asUser(other, 'frank@acme.com');
    expect((await client.listTools()).tools.map((x) => x.name)).toEqual(['whoami']);
    await expect(client.callTool({ name: 'google__gmail_search', arguments: { query: 'tenant' } })).rejects.toThrow(/Unknown tool/);
    // The token of tenant A's user is refused at tenant B's endpoint.
    const userA = await createUser(t, 'frank@acme.com');
    await expect(connect(app, other, verifier.issue(t, userA))).rejects.toThrow();
    await client.close();
  });

  it('rate limits and 5xx are retried with backoff; persistent ones and quota errors become tool errors with a hint; missing delegation is explained', async () => {
    const { t, sa } = await setup();
    google.addMessage('gina@acme.com', { id: 'g1', from: 'x', to: 'gina@acme.com', subject: 'hello', body: 'x' });
    const { client } = await asUser(t, 'gina@acme.com');
    google.failures.push({ prefix: '/gmail/v1/users/me/messages', status: 429, reason: 'rateLimitExceeded', count: 1 });
    google.failures.push({ prefix: '/gmail/v1/users/me/messages', status: 503, reason: 'backendError', count: 1 });
    const ok = await client.callTool({ name: 'google__gmail_search', arguments: { query: 'hello' } });
    expect(ok.isError).toBeFalsy();
    expect((ok.structuredContent as { messages: unknown[] }).messages).toHaveLength(1);

    google.failures.push({ prefix: '/gmail/v1/users/me/messages', status: 503, reason: 'backendError', count: 5 });
    const down = await client.callTool({ name: 'google__gmail_search', arguments: { query: 'hello' } });
    expect(JSON.stringify(down.content)).toMatch(/Google is unavailable right now.*Retry/);
    google.failures.length = 0;

    google.failures.push({ prefix: '/gmail/v1/users/me/messages', status: 429, reason: 'rateLimitExceeded', count: 5, retryAfter: '0' });
    const limited = await client.callTool({ name: 'google__gmail_search', arguments: { query: 'hello' } });
    expect(JSON.stringify(limited.content)).toMatch(/rate limiting.*Retry/);
    google.failures.length = 0;
    // Retry-After as an HTTP-date (RFC 9110 §10.2.3), read against the injected clock.
    google.failures.push({ prefix: '/gmail/v1/users/me/messages', status: 403, reason: 'userRateLimitExceeded', count: 5, retryAfter: new Date(app.clock.now().getTime() + 90_000).toUTCString() });
    const dated = await client.callTool({ name: 'google__gmail_search', arguments: { query: 'hello' } });
    expect(JSON.stringify(dated.content)).toMatch(/rate limiting.*Retry in about 90 s/);
    google.failures.length = 0;

    google.failures.push({ prefix: '/gmail/v1/users/me/messages', status: 403, reason: 'dailyLimitExceeded', count: 1 });
    const quota = await client.callTool({ name: 'google__gmail_search', arguments: { query: 'hello' } });
    expect(JSON.stringify(quota.content)).toMatch(/quota exceeded/);
    google.failures.length = 0;

    // Sending is not retried on 5xx (Google may have sent it).
    const draft = await client.callTool({ name: 'google__gmail_create_draft', arguments: { to: ['x@acme.com'], subject: 's', body: 'b' } });
    const sends = () => google.apiRequests.filter((r) => r.path.endsWith('/drafts/send')).length;
    const sendsBefore = sends();
    google.failures.push({ prefix: '/gmail/v1/users/me/drafts/send', status: 503, reason: 'backendError', count: 1 });
    const failedSend = await client.callTool({ name: 'google__gmail_send_draft', arguments: { draftId: (draft.structuredContent as { draftId: string }).draftId } });
    expect(failedSend.isError).toBe(true);
    expect(sends()).toBe(sendsBefore + 1);

    // A cached token Google no longer accepts (401): a tool error, and the next call asks for a new token.
    google.failures.push({ prefix: '/gmail/v1/users/me/messages/g1', status: 401, reason: 'authError', count: 1 });
    const tokensBefore = google.tokenRequests.length;
    expect(JSON.stringify((await client.callTool({ name: 'google__gmail_read', arguments: { messageId: 'g1' } })).content)).toMatch(/refused the access token.*Retry/);
    expect(google.tokenRequests.length).toBe(tokensBefore);
    expect((await client.callTool({ name: 'google__gmail_read', arguments: { messageId: 'g1' } })).isError).toBeFalsy();
    expect(google.tokenRequests.length).toBe(tokensBefore + 1);

    // The admin withdraws delegation of gmail.labels: a fresh token request is refused with unauthorized_client.
    google.delegate(sa.clientId, allGoogleScopes().filter((s) => !s.endsWith('gmail.labels')));
    const labels = await client.callTool({ name: 'google__gmail_list_labels', arguments: {} });
    expect(JSON.stringify(labels.content)).toMatch(/has not granted this tool's access \(domain-wide delegation for https:\/\/www\.googleapis\.com\/auth\/gmail\.labels\)/);
    await client.close();
  });

  it('audits every Google call with tool, user, API methods and outcome, never contents', async () => {
    const { t } = await setup();
    google.addMessage('hank@acme.com', { id: 'h1', from: 'x', to: 'hank@acme.com', subject: 'Confidential merger', body: 'TOP-SECRET-BODY' });
    const { client, userId } = await asUser(t, 'hank@acme.com');
    await client.callTool({ name: 'google__gmail_search', arguments: { query: 'merger' } });
    await client.callTool({ name: 'google__gmail_read', arguments: { messageId: 'nope' } });
    await app.services.audit.flush();
    const events = (await t.db.auditEvent.findMany({ where: { action: 'connector.google.call' } })).sort((a, b) => ((a.detail as { tool: string }).tool < (b.detail as { tool: string }).tool ? -1 : 1));
    expect(events.map((e) => [e.actorId, e.outcome, (e.detail as { tool: string }).tool, (e.detail as { methods: string[] }).methods])).toEqual([
      [userId, 'failure', 'google__gmail_read', ['gmail.users.messages.get']],
      [userId, 'success', 'google__gmail_search', ['gmail.users.messages.list', 'gmail.users.messages.get']],
    ]);
    expect((events[0]!.detail as { error: string }).error).toBe('not_found');
    const all = JSON.stringify(await t.db.auditEvent.findMany());
    expect(all).not.toContain('TOP-SECRET-BODY');
    expect(all).not.toContain('Confidential merger');
    expect(all).not.toContain('merger');
    await client.close();
  });
});
