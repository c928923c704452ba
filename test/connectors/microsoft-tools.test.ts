import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { saveEntraToken } from '../../src/connectors/microsoft/entra-token-store.js';
import { microsoftRuntime } from '../../src/connectors/microsoft/microsoft-tokens.js';
import { runConnectorTool } from '../../src/connectors/tool-providers.js';
import { mcpResourceUrl } from '../../src/mcp/mcp-resource.js';
import type { TenantCtx } from '../../src/tenants/tenant-context.js';
import { testDbKinds } from '../support/databases.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { HeadlessOAuthProvider } from '../mcp/oauth-provider.js';
import { cli, createUser } from '../mcp/support.js';
import { EntraFake, trustTestCa, type EntraUser } from './support/entra-fake.js';

/**
 * The Microsoft calendar-write, meeting-time, recent-files and Teams tools against the fake Entra + Graph over TLS
 * (real msal-node OBO as the signed-in user): the Graph request each makes (method, path, body, the caller's own
 * token), what it returns, hostile ids and texts refused by the input schema, Graph 403/404 mapped to tool errors,
 * audit rows without contents, and the write tools approved separately through the MCP client.
 */
describe.each(testDbKinds)('Microsoft calendar, files and Teams tools (%s)', (kind) => {
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

  async function setup(extraIdp: Record<string, unknown> = {}) {
    const t = await app.createTenant();
    const conn = (await cli(app, 'idp add-oidc', { tenant: t.slug, issuer: entra.issuer(tid), 'client-id': entra.clientId, 'client-secret': entra.clientSecret, name: 'Entra', 'allowed-domain': ['contoso.com'], ...extraIdp })) as { id: string };
    await cli(app, 'connector add-microsoft', { tenant: t.slug, 'client-id': entra.clientId, 'client-secret': entra.clientSecret, 'authority-host': entra.origin, 'graph-endpoint': entra.origin });
    return { t, conn };
  }
  /** A user whose Entra refresh token is stored (as SSO would have kept it). */
  async function signedInUser(t: TenantCtx, connId: string, name = 'User') {
    const email = `u${randomUUID().slice(0, 8)}@contoso.com`;
    const user = entra.addUser({ tid, email, name });
    const userId = await createUser(t, email, ['Staff']);
    const rt = `rt.seed.${randomUUID()}`;
    entra.refreshTokens.set(rt, { oid: user.oid, tid, clientId: entra.clientId, revoked: false });
    await saveEntraToken(app.services, t, userId, connId, { refreshToken: rt, tid, oid: user.oid, clientId: entra.clientId });
    return { user, userId };
  }
  const call = (t: TenantCtx, userId: string, name: string, args: Record<string, unknown>) =>
    runConnectorTool(app.services, t, { userId, clientId: 'c1', signal: new AbortController().signal }, name, args);
  const text = (r: { content?: unknown }) => ((r.content as { text?: string }[] | undefined) ?? []).map((c) => c.text ?? '').join('\n');
  const mine = (u: EntraUser) => entra.graphRequests.filter((r) => r.oid === u.oid);
  async function auditRows(t: TenantCtx) {
    await app.services.audit.flush();
    return t.db.auditEvent.findMany({ where: { action: 'connector.microsoft.call' } });
  }
  /** Each refused input: a tool error naming the schema, and no Graph request at all. */
  async function refused(t: TenantCtx, userId: string, tool: string, cases: Record<string, unknown>[], pattern = /Invalid arguments/) {
    const before = entra.graphRequests.length;
    for (const args of cases) {
      const r = await call(t, userId, tool, args);
      expect(r.isError, JSON.stringify(args).slice(0, 200)).toBe(true);
      expect(text(r), JSON.stringify(args).slice(0, 200)).toMatch(pattern);
    }
    expect(entra.graphRequests.length).toBe(before);
  }

  it('calendar: create, update, cancel and find meeting times as the user; hostile ids refused; 404 mapped; audit without contents', { timeout: 120_000 }, async () => {
    const { t, conn } = await setup();
    entra.grantConsent(tid, ['Calendars.ReadWrite', 'Calendars.Read.Shared']);
    const { user, userId } = await signedInUser(t, conn.id, 'Alice Organiser');
    const { user: other, userId: otherId } = await signedInUser(t, conn.id, 'Mallory');

    // Create: a local time in a named zone goes to Graph as dateTime + timeZone; body text, location, attendees, Teams link.
    const created = await call(t, userId, 'microsoft__calendar_create_event', {
      subject: 'Board prep', body: 'SECRET-AGENDA', location: 'Room 1', start: '2026-12-07T10:00:00Z', end: '2026-12-07T12:00:00+01:00', timeZone: 'Europe/Paris', attendees: ['ada@contoso.com'], onlineMeeting: true,
    });
    expect(created.isError, text(created)).toBeFalsy();
    const req = entra.graphRequests.at(-1)!;
    expect(req).toMatchObject({ method: 'POST', path: '/v1.0/me/events', oid: user.oid, prefer: 'outlook.timezone="UTC"' });
    expect(req.body).toEqual({
      subject: 'Board prep', body: { contentType: 'Text', content: 'SECRET-AGENDA' }, location: { displayName: 'Room 1' },
      // Offsets are normalised to UTC (Graph wants a local time plus a zone name).
      start: { dateTime: '2026-12-07T10:00:00', timeZone: 'UTC' }, end: { dateTime: '2026-12-07T11:00:00', timeZone: 'UTC' },
      attendees: [{ emailAddress: { address: 'ada@contoso.com' }, type: 'required' }], isOnlineMeeting: true, onlineMeetingProvider: 'teamsForBusiness',
    });
    const ev = created.structuredContent as { id: string };
    expect(created.structuredContent).toEqual({
      id: expect.stringMatching(/^AAMkAD[0-9a-f]+=$/), subject: 'Board prep', start: '2026-12-07T10:00:00', end: '2026-12-07T11:00:00', timeZone: 'UTC', location: 'Room 1',
      organizer: `Alice Organiser <${user.email}>`, attendees: [{ email: 'ada@contoso.com', response: null }], isCancelled: false, joinUrl: `https://teams.example/l/meetup-join/${ev.id}`, webLink: `https://outlook.example/calendar/${ev.id}`,
    });
    expect(text(created)).toBe(`Created [${ev.id}] 2026-12-07T10:00:00 → 2026-12-07T11:00:00 UTC · Board prep`);
    expect(entra.events.get(ev.id)).toMatchObject({ oid: user.oid });

    // A local time keeps the zone given.
    const local = await call(t, userId, 'microsoft__calendar_create_event', { subject: 'Lunch', start: '2026-12-07T12:00:00', end: '2026-12-07T13:00:00', timeZone: 'Europe/Paris' });
    expect(local.isError, text(local)).toBeFalsy();
    expect(entra.graphRequests.at(-1)!.body).toEqual({ subject: 'Lunch', start: { dateTime: '2026-12-07T12:00:00', timeZone: 'Europe/Paris' }, end: { dateTime: '2026-12-07T13:00:00', timeZone: 'Europe/Paris' } });

    // Update: only the fields given; the id travels as one encoded path segment.
    const updated = await call(t, userId, 'microsoft__calendar_update_event', { eventId: ev.id, subject: 'Board prep (moved)', start: '2026-12-08T09:00:00+01:00', end: '2026-12-08T10:00:00+01:00' });
    expect(updated.isError, text(updated)).toBeFalsy();
    expect(entra.graphRequests.at(-1)).toMatchObject({ method: 'PATCH', path: `/v1.0/me/events/${encodeURIComponent(ev.id)}`, oid: user.oid });
    expect(entra.graphRequests.at(-1)!.body).toEqual({ subject: 'Board prep (moved)', start: { dateTime: '2026-12-08T08:00:00', timeZone: 'UTC' }, end: { dateTime: '2026-12-08T09:00:00', timeZone: 'UTC' } });
    expect(updated.structuredContent).toMatchObject({ id: ev.id, subject: 'Board prep (moved)', start: '2026-12-08T08:00:00', location: 'Room 1' });
    expect(text(updated)).toMatch(/^Updated \[.+\] 2026-12-08T08:00:00 → 2026-12-08T09:00:00 UTC · Board prep \(moved\)$/);

    // Refused before Graph: end before start, path-like or over-long ids, over-long fields, a zone with control characters.
    await refused(t, userId, 'microsoft__calendar_update_event', [{ eventId: ev.id, start: '2026-12-08T10:00:00Z', end: '2026-12-08T09:00:00Z' }], /end must be after start/);
    await refused(t, userId, 'microsoft__calendar_create_event', [{ subject: 'x', start: '2026-12-08T10:00:00Z', end: '2026-12-08T10:00:00Z' }], /end must be after start/);
    await refused(t, userId, 'microsoft__calendar_update_event', [
      { eventId: '..', subject: 'x' }, { eventId: '.', subject: 'x' }, { eventId: 'a b', subject: 'x' }, { eventId: 'a?b', subject: 'x' }, { eventId: 'a#b', subject: 'x' }, { eventId: 'x'.repeat(513) },
      { eventId: ev.id, subject: 'x'.repeat(1025) }, { eventId: ev.id, timeZone: 'UTC\r\nX-Injected: 1' }, { eventId: ev.id, attendees: ['not-an-email'] }, { eventId: ev.id, start: 'tomorrow' }, { eventId: ev.id, start: '2026-13-01T10:00:00' }, { eventId: ev.id, end: '2026-12-08T10:00:00+25:00' }, {},
    ]);
    await refused(t, userId, 'microsoft__calendar_cancel_event', [{ eventId: '..' }, { eventId: '../' + 'x'.repeat(600) }, { eventId: ev.id, comment: 'x'.repeat(2001) }, {}]);
    await refused(t, userId, 'microsoft__calendar_create_event', [{ subject: 'no times' }, { subject: 'x', start: '2026-12-08T10:00:00Z', end: '2026-12-08T11:00:00Z', body: 'x'.repeat(8193) }]);
    // Slashes are legal in Outlook ids: encoded inside the one segment, so "../../users/x" never climbs; Graph's 404 is a tool error.
    const climb = await call(t, userId, 'microsoft__calendar_cancel_event', { eventId: '../../users/victim' });
    expect(entra.graphRequests.at(-1)).toMatchObject({ method: 'POST', path: '/v1.0/me/events/..%2F..%2Fusers%2Fvictim/cancel', oid: user.oid });
    expect(climb).toMatchObject({ isError: true });
    expect(text(climb)).toBe('Not found in Microsoft 365 (POST /me/events/{id}/cancel): check the id.');
    const missing = await call(t, userId, 'microsoft__calendar_update_event', { eventId: 'AAMkADnope=', subject: 'x' });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toBe('Not found in Microsoft 365 (PATCH /me/events/{id}): check the id.');

    // Another user's token cannot cancel this event (Graph answers 404 in their mailbox); the event stays.
    const theirs = await call(t, otherId, 'microsoft__calendar_cancel_event', { eventId: ev.id });
    expect(theirs.isError).toBe(true);
    expect(entra.graphRequests.at(-1)).toMatchObject({ oid: other.oid });
    expect(entra.events.get(ev.id)!.cancelled).toBeUndefined();

    // Cancel: the comment goes to the attendees; a second cancel finds nothing.
    const cancelled = await call(t, userId, 'microsoft__calendar_cancel_event', { eventId: ev.id, comment: 'SECRET-SORRY' });
    expect(cancelled.isError, text(cancelled)).toBeFalsy();
    expect(entra.graphRequests.at(-1)).toMatchObject({ method: 'POST', path: `/v1.0/me/events/${encodeURIComponent(ev.id)}/cancel`, oid: user.oid, body: { comment: 'SECRET-SORRY' } });
    expect(cancelled.structuredContent).toEqual({ cancelled: true, eventId: ev.id });
    expect(text(cancelled)).toBe(`Cancelled event ${ev.id}.`);
    expect(entra.events.get(ev.id)!.cancelled).toEqual({ comment: 'SECRET-SORRY' });
    expect(text(await call(t, userId, 'microsoft__calendar_cancel_event', { eventId: ev.id }))).toMatch(/Not found in Microsoft 365/);

    // findMeetingTimes: the window in UTC, the duration as ISO 8601, suggestions with each attendee's availability.
    const found = await call(t, userId, 'microsoft__calendar_find_meeting_times', { attendees: ['ada@contoso.com', 'bob@contoso.com'], durationMinutes: 45, windowStart: '2026-12-07T09:00:00+01:00', windowEnd: '2026-12-07T17:00:00Z', maxCandidates: 3 });
    expect(found.isError, text(found)).toBeFalsy();
    expect(entra.graphRequests.at(-1)).toMatchObject({ method: 'POST', path: '/v1.0/me/findMeetingTimes', oid: user.oid, prefer: 'outlook.timezone="UTC"' });
    expect(entra.graphRequests.at(-1)!.body).toEqual({
      attendees: [{ emailAddress: { address: 'ada@contoso.com' }, type: 'required' }, { emailAddress: { address: 'bob@contoso.com' }, type: 'required' }],
      timeConstraint: { activityDomain: 'work', timeSlots: [{ start: { dateTime: '2026-12-07T08:00:00', timeZone: 'UTC' }, end: { dateTime: '2026-12-07T17:00:00', timeZone: 'UTC' } }] },
      meetingDuration: 'PT45M', maxCandidates: 3, returnSuggestionReasons: false,
    });
    expect(found.structuredContent).toEqual({
      suggestions: [{ start: '2026-12-07T08:00:00.0000000', end: '2026-12-07T08:45:00.0000000', confidence: 100, availability: [{ email: 'ada@contoso.com', availability: 'free' }, { email: 'bob@contoso.com', availability: 'free' }] }],
      emptySuggestionsReason: null,
    });
    expect(text(found)).toBe('- 2026-12-07T08:00:00.0000000 → 2026-12-07T08:45:00.0000000 UTC (confidence 100)');
    entra.meetingTimes = () => ({ emptySuggestionsReason: 'AttendeesUnavailable', meetingTimeSuggestions: [] });
    try {
      const none = await call(t, userId, 'microsoft__calendar_find_meeting_times', { attendees: ['ada@contoso.com'], windowStart: '2026-12-07T09:00:00Z', windowEnd: '2026-12-07T10:00:00Z' });
      expect(none.structuredContent).toEqual({ suggestions: [], emptySuggestionsReason: 'AttendeesUnavailable' });
      expect(text(none)).toBe('No time found (AttendeesUnavailable).');
      expect(entra.graphRequests.at(-1)!.body).toMatchObject({ meetingDuration: 'PT30M', maxCandidates: 5 });
    } finally {
      entra.meetingTimes = null;
    }
    await refused(t, userId, 'microsoft__calendar_find_meeting_times', [
      { attendees: [], windowStart: '2026-12-07T09:00:00Z', windowEnd: '2026-12-07T10:00:00Z' },
      { attendees: Array.from({ length: 21 }, (_, i) => `a${i}@contoso.com`), windowStart: '2026-12-07T09:00:00Z', windowEnd: '2026-12-07T10:00:00Z' },
      { attendees: ['ada@contoso.com'], durationMinutes: 481, windowStart: '2026-12-07T09:00:00Z', windowEnd: '2026-12-07T10:00:00Z' },
      { attendees: ['ada@contoso.com'], windowStart: 'soon', windowEnd: '2026-12-07T10:00:00Z' },
    ]);

    // Every call audited with the tool, the Graph endpoint and the outcome — never the subject, body or comment.
    const rows = await auditRows(t);
    const tools = rows.map((r) => (r.detail as { tool: string }).tool);
    for (const tool of ['microsoft__calendar_create_event', 'microsoft__calendar_update_event', 'microsoft__calendar_cancel_event', 'microsoft__calendar_find_meeting_times']) expect(tools).toContain(tool);
    expect(rows.find((r) => (r.detail as { tool: string }).tool === 'microsoft__calendar_cancel_event' && r.outcome === 'success')!.detail).toMatchObject({ endpoints: ['POST /me/events/{id}/cancel'] });
    expect(rows.some((r) => r.outcome === 'failure' && (r.detail as { error?: string }).error === 'not_found')).toBe(true);
    expect(JSON.stringify(rows)).not.toMatch(/SECRET-AGENDA|SECRET-SORRY|Board prep|Room 1|ada@contoso\.com|AAMkAD/);
  });

  it('files_recent: /me/drive/recent as the user, remote items resolved to their drive, bounded; audit without names', { timeout: 120_000 }, async () => {
    const { t, conn } = await setup();
    entra.grantConsent(tid, ['Files.Read']);
    const { user, userId } = await signedInUser(t, conn.id);
    const { userId: emptyId } = await signedInUser(t, conn.id);
    entra.recentFiles.set(user.oid, [
      { id: 'r1', name: 'SECRET-plan.xlsx', size: 10, webUrl: 'https://contoso-my.sharepoint.com/plan.xlsx', lastModifiedDateTime: '2026-12-04T10:00:00Z', file: { mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' }, parentReference: { driveId: 'b!mine' } },
      // Shared with the user from another drive: Graph lists it with a remoteItem naming the real drive and item.
      { id: 'local-r2', name: 'shared.docx', size: 20, webUrl: 'https://contoso.sharepoint.com/shared.docx', lastModifiedDateTime: '2026-12-03T10:00:00Z', file: { mimeType: 'application/msword' }, parentReference: { driveId: 'b!mine' }, remoteItem: { id: 'r2', parentReference: { driveId: 'b!theirs' } } },
      { id: 'r3', name: 'Folder', folder: { childCount: 2 }, webUrl: 'https://contoso-my.sharepoint.com/Folder', lastModifiedDateTime: '2026-12-02T10:00:00Z', parentReference: { driveId: 'b!mine' } },
    ]);
    const two = await call(t, userId, 'microsoft__files_recent', { maxResults: 2 });
    expect(two.isError, text(two)).toBeFalsy();
    expect(entra.graphRequests.at(-1)).toMatchObject({ method: 'GET', path: '/v1.0/me/drive/recent?%24top=2', oid: user.oid });
    expect(two.structuredContent).toEqual({
      files: [
        { id: 'r1', driveId: 'b!mine', name: 'SECRET-plan.xlsx', size: 10, mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', webUrl: 'https://contoso-my.sharepoint.com/plan.xlsx', lastModified: '2026-12-04T10:00:00Z', isFolder: false },
        { id: 'r2', driveId: 'b!theirs', name: 'shared.docx', size: 20, mimeType: 'application/msword', webUrl: 'https://contoso.sharepoint.com/shared.docx', lastModified: '2026-12-03T10:00:00Z', isFolder: false },
      ],
    });
    expect(text(two)).toBe('- [b!mine/r1] SECRET-plan.xlsx · 2026-12-04T10:00:00Z · https://contoso-my.sharepoint.com/plan.xlsx\n- [b!theirs/r2] shared.docx · 2026-12-03T10:00:00Z · https://contoso.sharepoint.com/shared.docx');
    const all = await call(t, userId, 'microsoft__files_recent', {});
    expect(entra.graphRequests.at(-1)!.path).toBe('/v1.0/me/drive/recent?%24top=15');
    expect((all.structuredContent as { files: { id: string; isFolder: boolean }[] }).files.map((f) => [f.id, f.isFolder])).toEqual([['r1', false], ['r2', false], ['r3', true]]);

    // Another user's call uses their own token and sees their own (empty) list.
    const empty = await call(t, emptyId, 'microsoft__files_recent', {});
    expect(empty).toMatchObject({ structuredContent: { files: [] } });
    expect(text(empty)).toBe('No recent files.');
    expect(mine(user)).toHaveLength(2);
    await refused(t, userId, 'microsoft__files_recent', [{ maxResults: 0 }, { maxResults: 51 }, { maxResults: 'all' }]);

    const rows = await auditRows(t);
    expect(rows.filter((r) => (r.detail as { tool: string }).tool === 'microsoft__files_recent' && r.outcome === 'success')).toHaveLength(3);
    expect(JSON.stringify(rows)).not.toMatch(/SECRET-plan|shared\.docx|b!theirs/);
  });

  it('Teams: list chats and channels, read and post in a chat and a channel as the user; 403/404 mapped; hostile input refused; audit without text', { timeout: 120_000 }, async () => {
    const { t, conn } = await setup();
    entra.grantConsent(tid, ['Chat.ReadBasic', 'Team.ReadBasic.All', 'Channel.ReadBasic.All', 'Chat.Read', 'ChannelMessage.Read.All', 'ChatMessage.Send', 'ChannelMessage.Send']);
    const { user, userId } = await signedInUser(t, conn.id, 'Alice');
    const bob = entra.addUser({ tid, email: `bob${randomUUID().slice(0, 6)}@contoso.com`, name: 'Bob' });
    const chatId = `19:${randomUUID()}@thread.v2`;
    const privateChat = `19:${randomUUID()}@thread.v2`;
    const teamId = randomUUID();
    const channelId = `19:${randomUUID().replaceAll('-', '')}@thread.tacv2`;
    entra.chats.set(chatId, {
      id: chatId, members: [user.oid, bob.oid], topic: 'Launch', chatType: 'group',
      messages: [
        { id: '1701', from: bob.oid, contentType: 'html', content: '<p>SECRET-CHAT ship &amp; celebrate</p>', created: '2026-12-04T10:00:00Z' },
        { id: '1702', from: bob.oid, contentType: 'html', content: '<systemEventMessage/>', messageType: 'systemEventMessage', created: '2026-12-04T10:01:00Z' },
      ],
    });
    entra.chats.set(privateChat, { id: privateChat, members: [bob.oid], topic: 'Bob only', messages: [{ id: '1', from: bob.oid, contentType: 'text', content: 'private', created: '2026-12-04T10:00:00Z' }] });
    entra.teams.set(teamId, { id: teamId, name: 'Engineering', members: [user.oid, bob.oid], channels: [{ id: channelId, members: [], topic: 'General', messages: [{ id: '1801', from: bob.oid, contentType: 'text', content: 'SECRET-CHANNEL standup at 10', created: '2026-12-04T09:00:00Z' }] }] });
    const otherTeam = randomUUID();
    entra.teams.set(otherTeam, { id: otherTeam, name: 'Finance', members: [bob.oid], channels: [{ id: '19:fin@thread.tacv2', members: [], topic: 'Ledger', messages: [] }] });

    const chats = await call(t, userId, 'microsoft__teams_list_chats', {});
    expect(chats.isError, text(chats)).toBeFalsy();
    expect(entra.graphRequests.at(-1)).toMatchObject({ method: 'GET', path: '/v1.0/me/chats?%24top=20', oid: user.oid });
    expect(chats.structuredContent).toEqual({ chats: [{ id: chatId, topic: 'Launch', chatType: 'group', lastUpdated: '2026-12-04T10:01:00Z' }] });
    expect(text(chats)).toBe(`- [${chatId}] Launch`);

    const n = entra.graphRequests.length;
    const channels = await call(t, userId, 'microsoft__teams_list_channels', {});
    expect(channels.isError, text(channels)).toBeFalsy();
    expect(entra.graphRequests.slice(n).map((r) => [r.method, r.path, r.oid])).toEqual([
      ['GET', '/v1.0/me/joinedTeams', user.oid],
      ['GET', `/v1.0/teams/${teamId}/channels?%24select=id%2CdisplayName`, user.oid],
    ]);
    expect(channels.structuredContent).toEqual({ teams: [{ id: teamId, name: 'Engineering', channels: [{ id: channelId, name: 'General' }] }] });
    expect(text(channels)).toBe(`- Engineering [${teamId}]\n  - #General [${channelId}]`);

    // Read a chat: HTML reduced to text, system events left out.
    const read = await call(t, userId, 'microsoft__teams_read_messages', { chatId, maxResults: 10 });
    expect(read.isError, text(read)).toBeFalsy();
    expect(entra.graphRequests.at(-1)).toMatchObject({ method: 'GET', path: `/v1.0/chats/${encodeURIComponent(chatId)}/messages?%24top=10`, oid: user.oid });
    expect(read.structuredContent).toEqual({ messages: [{ id: '1701', createdAt: '2026-12-04T10:00:00Z', from: 'Bob', text: 'SECRET-CHAT ship & celebrate' }] });
    expect(text(read)).toBe('- 2026-12-04T10:00:00Z Bob: SECRET-CHAT ship & celebrate');
    const chan = await call(t, userId, 'microsoft__teams_read_messages', { teamId, channelId });
    expect(entra.graphRequests.at(-1)).toMatchObject({ method: 'GET', path: `/v1.0/teams/${teamId}/channels/${encodeURIComponent(channelId)}/messages?%24top=20`, oid: user.oid });
    expect(chan.structuredContent).toEqual({ messages: [{ id: '1801', createdAt: '2026-12-04T09:00:00Z', from: 'Bob', text: 'SECRET-CHANNEL standup at 10' }] });

    // Graph 403 (not a member) and 404 (no such chat/channel) become tool errors naming the call.
    const forbidden = await call(t, userId, 'microsoft__teams_read_messages', { chatId: privateChat });
    expect(forbidden.isError).toBe(true);
    expect(text(forbidden)).toBe('Microsoft Graph refused GET /chats/{id}/messages: Forbidden.');
    expect(text(await call(t, userId, 'microsoft__teams_read_messages', { teamId: otherTeam, channelId: '19:fin@thread.tacv2' }))).toBe('Microsoft Graph refused GET /teams/{t}/channels/{c}/messages: Forbidden.');
    expect(text(await call(t, userId, 'microsoft__teams_read_messages', { chatId: '19:gone@thread.v2' }))).toBe('Not found in Microsoft 365 (GET /chats/{id}/messages): check the id.');
    expect(text(await call(t, userId, 'microsoft__teams_read_messages', { teamId, channelId: '19:gone@thread.tacv2' }))).toMatch(/^Not found in Microsoft 365/);
    const notMine = await call(t, userId, 'microsoft__teams_post_message', { chatId: privateChat, text: 'let me in' });
    expect(text(notMine)).toBe('Microsoft Graph refused POST /chats/{id}/messages: Forbidden.');
    expect(entra.chats.get(privateChat)!.messages).toHaveLength(1);

    // Post as the user: plain text, in a chat and in a channel.
    const posted = await call(t, userId, 'microsoft__teams_post_message', { chatId, text: 'SECRET-POST <b>not html</b>' });
    expect(posted.isError, text(posted)).toBeFalsy();
    expect(entra.graphRequests.at(-1)).toMatchObject({ method: 'POST', path: `/v1.0/chats/${encodeURIComponent(chatId)}/messages`, oid: user.oid, body: { body: { contentType: 'text', content: 'SECRET-POST <b>not html</b>' } } });
    const m = posted.structuredContent as { id: string };
    expect(posted.structuredContent).toEqual({ id: m.id, createdAt: expect.any(String), from: 'Alice', text: 'SECRET-POST <b>not html</b>' });
    expect(text(posted)).toBe(`Posted (message ${m.id}).`);
    expect(entra.chats.get(chatId)!.messages.at(-1)).toMatchObject({ from: user.oid, contentType: 'text', content: 'SECRET-POST <b>not html</b>' });
    const inChannel = await call(t, userId, 'microsoft__teams_post_message', { teamId, channelId, text: 'SECRET-POST-CHANNEL' });
    expect(inChannel.isError, text(inChannel)).toBeFalsy();
    expect(entra.graphRequests.at(-1)).toMatchObject({ method: 'POST', path: `/v1.0/teams/${teamId}/channels/${encodeURIComponent(channelId)}/messages`, oid: user.oid, body: { body: { contentType: 'text', content: 'SECRET-POST-CHANNEL' } } });
    expect(entra.teams.get(teamId)!.channels[0]!.messages.at(-1)).toMatchObject({ from: user.oid, content: 'SECRET-POST-CHANNEL' });

    // Refused before Graph: no target, both targets, half a channel, path-like ids, empty or over-long text.
    await refused(t, userId, 'microsoft__teams_post_message', [{ text: 'x' }, { chatId, teamId, channelId, text: 'x' }, { teamId, text: 'x' }, { channelId, text: 'x' }], /Give either chatId, or teamId with channelId/);
    await refused(t, userId, 'microsoft__teams_read_messages', [{}, { chatId, teamId }], /Give either chatId, or teamId with channelId/);
    await refused(t, userId, 'microsoft__teams_post_message', [
      { chatId, text: '' }, { chatId, text: 'x'.repeat(28_001) }, { chatId: '..', text: 'x' }, { chatId: 'a/b?c', text: 'x' }, { teamId: '..', channelId, text: 'x' }, { chatId }, { chatId, text: 42 },
    ]);
    await refused(t, userId, 'microsoft__teams_read_messages', [{ chatId: '.' }, { chatId: 'a b' }, { chatId, maxResults: 51 }]);
    await refused(t, userId, 'microsoft__teams_list_chats', [{ maxResults: 0 }]);
    await refused(t, userId, 'microsoft__teams_list_channels', [{ maxTeams: 51 }]);
    expect(entra.chats.get(chatId)!.messages).toHaveLength(3);

    const rows = await auditRows(t);
    const tools = rows.map((r) => (r.detail as { tool: string }).tool);
    for (const tool of ['microsoft__teams_list_chats', 'microsoft__teams_list_channels', 'microsoft__teams_read_messages', 'microsoft__teams_post_message']) expect(tools).toContain(tool);
    expect(rows.find((r) => (r.detail as { tool: string }).tool === 'microsoft__teams_post_message' && r.outcome === 'success')!.detail).toMatchObject({ endpoints: ['POST /chats/{id}/messages'] });
    expect(rows.some((r) => (r.detail as { error?: string }).error === 'forbidden')).toBe(true);
    expect(JSON.stringify(rows)).not.toMatch(/SECRET-|celebrate|standup|not html|let me in|Launch|thread\.v2/);
  });

  it('through the MCP client: post_message and cancel_event are approved separately from reading; unapproved they cannot be called', { timeout: 240_000 }, async () => {
    const { t } = await setup({ 'no-jit': true });
    entra.grantConsent(tid, ['Chat.Read', 'ChatMessage.Send', 'Calendars.ReadWrite']);
    const alice = entra.addUser({ tid, email: `alice${randomUUID().slice(0, 6)}@contoso.com`, name: 'Alice' });
    await createUser(t, alice.email, ['Sales']);
    const chatId = `19:${randomUUID()}@thread.v2`;
    entra.chats.set(chatId, { id: chatId, members: [alice.oid], topic: 'Notes', messages: [{ id: '1', from: alice.oid, contentType: 'text', content: 'hello', created: '2026-12-04T10:00:00Z' }] });
    for (const tool of ['microsoft__teams_read_messages', 'microsoft__calendar_create_event', 'microsoft__calendar_update_event']) await cli(app, 'tool approve', { tenant: t.slug, tool, group: ['Sales'] });

    entra.nextUser = alice.oid;
    const provider = new HeadlessOAuthProvider('http://127.0.0.1:53821/callback');
    const mcpUrl = new URL(mcpResourceUrl(app.url, t));
    await expect(new Client({ name: 'tools', version: '1' }).connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }))).rejects.toBeInstanceOf(UnauthorizedError);
    const callback = await provider.completeInBrowser();
    const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
    await transport.finishAuth(callback.searchParams.get('code')!);
    const client = new Client({ name: 'tools', version: '1' });
    await client.connect(transport);
    try {
      const listed = async () => (await client.listTools()).tools.map((x) => x.name);
      const attempt = (name: string, args: Record<string, unknown>) =>
        client.callTool({ name, arguments: args }).then(
          (r) => ({ isError: r.isError === true, text: text(r as { content?: unknown }) }),
          (e: unknown) => ({ isError: true, text: String(e) }),
        );

      expect(await listed()).toEqual(expect.arrayContaining(['microsoft__teams_read_messages', 'microsoft__calendar_create_event', 'microsoft__calendar_update_event']));
      expect(await listed()).not.toContain('microsoft__teams_post_message');
      expect(await listed()).not.toContain('microsoft__calendar_cancel_event');
      const read = await attempt('microsoft__teams_read_messages', { chatId });
      expect(read, read.text).toMatchObject({ isError: false, text: expect.stringContaining('Alice: hello') });
      const created = await client.callTool({ name: 'microsoft__calendar_create_event', arguments: { subject: 'Sync', start: '2026-12-07T10:00:00Z', end: '2026-12-07T10:30:00Z' } });
      expect(created.isError, text(created as { content?: unknown })).toBeFalsy();
      const eventId = (created.structuredContent as { id: string }).id;

      // Approving reading (or create/update) does not approve posting or cancelling: no Graph request is made.
      const before = mine(alice).length;
      expect(await attempt('microsoft__teams_post_message', { chatId, text: 'should not post' })).toMatchObject({ isError: true });
      expect(await attempt('microsoft__calendar_cancel_event', { eventId })).toMatchObject({ isError: true });
      expect(mine(alice)).toHaveLength(before);
      expect(entra.chats.get(chatId)!.messages).toHaveLength(1);
      expect(entra.events.get(eventId)!.cancelled).toBeUndefined();

      // Approving post_message makes it callable; cancel stays refused until it is approved too.
      await cli(app, 'tool approve', { tenant: t.slug, tool: 'microsoft__teams_post_message', group: ['Sales'] });
      const posted = await attempt('microsoft__teams_post_message', { chatId, text: 'now it posts' });
      expect(posted, posted.text).toMatchObject({ isError: false, text: expect.stringMatching(/^Posted \(message .+\)\.$/) });
      expect(entra.chats.get(chatId)!.messages.at(-1)).toMatchObject({ from: alice.oid, content: 'now it posts' });
      const n = mine(alice).length;
      expect(await attempt('microsoft__calendar_cancel_event', { eventId })).toMatchObject({ isError: true });
      expect(mine(alice)).toHaveLength(n);
      await cli(app, 'tool approve', { tenant: t.slug, tool: 'microsoft__calendar_cancel_event', group: ['Sales'] });
      const cancelled = await attempt('microsoft__calendar_cancel_event', { eventId, comment: 'sorry' });
      expect(cancelled, cancelled.text).toMatchObject({ isError: false, text: `Cancelled event ${eventId}.` });
      expect(entra.events.get(eventId)!.cancelled).toEqual({ comment: 'sorry' });
    } finally {
      await client.close().catch(() => undefined);
    }
  });
});
