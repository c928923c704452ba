import { describe, expect, it } from 'vitest';
import { testDbKinds } from '../support/databases.js';
import type { TestApp } from '../support/test-app.js';
import { cli, connect, createUser, type FakeVerifier } from '../mcp/support.js';
import { allGoogleScopes, GOOGLE_TOOL_SCOPES } from '../../src/connectors/google/google-scopes.js';
import type { GoogleFake } from './support/google-fake.js';
import { useGoogleApp } from './support/google-env.js';

describe.each(testDbKinds)('Google Calendar, Drive and Directory tools (%s)', (kind) => {
  let app: TestApp;
  let verifier: FakeVerifier;
  let google: GoogleFake;
  useGoogleApp(kind, (a, v, g) => {
    app = a;
    verifier = v;
    google = g;
  });

  /** A tenant with every Google tool approved, and a connected MCP client for `email`. */
  async function clientFor(email: string) {
    const t = await app.createTenant();
    const sa = google.serviceAccount(t.slug);
    google.delegate(sa.clientId, allGoogleScopes());
    google.users.add('admin@acme.com');
    google.users.add(email);
    await cli(app, 'connector add-google', { tenant: t.slug, 'service-account': sa.keyFile, 'admin-email': 'admin@acme.com', 'api-root': google.url });
    for (const tool of Object.keys(GOOGLE_TOOL_SCOPES)) await cli(app, 'tool approve', { tenant: t.slug, tool });
    const { client } = await connect(app, t, verifier.issue(t, await createUser(t, email)));
    // listTools first: the SDK client then validates every structuredContent against the tool's outputSchema.
    expect((await client.listTools()).tools.filter((x) => x.name.startsWith('google__') && x.outputSchema)).toHaveLength(Object.keys(GOOGLE_TOOL_SCOPES).length);
    const call = async (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args });
    return { t, client, call };
  }

  it('Calendar: list calendars, list/search events in a range, get, create, update, delete, free/busy', async () => {
    const { client, call } = await clientFor('cal@acme.com');
    google.calendars.set('cal@acme.com', [
      { id: 'e1', summary: 'Standup', start: '2026-12-07T09:00:00Z', end: '2026-12-07T09:15:00Z', description: 'Daily' },
      { id: 'e2', summary: 'Design review', start: '2026-12-08T14:00:00Z', end: '2026-12-08T15:00:00Z', attendees: ['x@acme.com'] },
      { id: 'e3', summary: 'Next year', start: '2027-02-01T09:00:00Z', end: '2027-02-01T10:00:00Z' },
    ]);
    google.calendars.set('other@acme.com', [{ id: 'o1', summary: 'Not yours', start: '2026-12-07T09:00:00Z', end: '2026-12-07T10:00:00Z' }]);

    const cals = await call('google__calendar_list_calendars', {});
    expect(cals.structuredContent).toMatchObject({ calendars: [{ id: 'cal@acme.com', primary: true }, { id: 'team@group.calendar.google.com', primary: false }] });

    const range = { timeMin: '2026-12-07T00:00:00Z', timeMax: '2026-12-14T00:00:00Z' };
    const listed = await call('google__calendar_list_events', range);
    expect((listed.structuredContent as { events: { id: string }[] }).events.map((e) => e.id)).toEqual(['e1', 'e2']);
    const paged = await call('google__calendar_list_events', { ...range, maxResults: 1 });
    expect(paged.structuredContent).toMatchObject({ events: [{ id: 'e1' }], nextPageToken: '1' });
    const searched = await call('google__calendar_list_events', { ...range, query: 'design' });
    expect(searched.structuredContent).toMatchObject({ events: [{ id: 'e2', attendees: [{ email: 'x@acme.com' }] }] });
    expect(await call('google__calendar_list_events', { timeMin: range.timeMax, timeMax: range.timeMin })).toMatchObject({ isError: true });
    expect(await call('google__calendar_list_events', { timeMin: 'tomorrow', timeMax: range.timeMax })).toMatchObject({ isError: true });

    // Google's own calendars have '#' in their ids: what list_calendars returns, list_events takes.
    const holidays = 'en.usa#holiday@group.v.calendar.google.com';
    google.sharedCalendars.set(holidays, [{ id: 'h1', summary: 'Holiday', start: '2026-12-08T00:00:00Z', end: '2026-12-09T00:00:00Z' }]);
    expect((await call('google__calendar_list_calendars', {})).structuredContent).toMatchObject({ calendars: expect.arrayContaining([expect.objectContaining({ id: holidays })]) });
    expect(await call('google__calendar_list_events', { ...range, calendarId: holidays })).toMatchObject({ structuredContent: { events: [{ id: 'h1', summary: 'Holiday' }] } });
    expect(await call('google__calendar_list_events', { ...range, calendarId: 'x/../primary' })).toMatchObject({ isError: true });
    expect(await call('google__calendar_get_event', { eventId: 'e1' })).toMatchObject({ structuredContent: { event: { id: 'e1', summary: 'Standup', description: 'Daily' } } });
    expect(await call('google__calendar_get_event', { eventId: 'o1' })).toMatchObject({ isError: true });

    const created = await call('google__calendar_create_event', { summary: 'Lunch', start: '2026-12-09T12:00:00Z', end: '2026-12-09T13:00:00Z', attendees: ['y@acme.com'] });
    const newId = (created.structuredContent as { event: { id: string } }).event.id;
    expect(google.calendars.get('cal@acme.com')!.find((e) => e.id === newId)).toMatchObject({ summary: 'Lunch', attendees: ['y@acme.com'] });
    expect(await call('google__calendar_create_event', { summary: 'Backwards', start: '2026-12-09T13:00:00Z', end: '2026-12-09T12:00:00Z' })).toMatchObject({ isError: true });

    expect(await call('google__calendar_update_event', { eventId: newId, summary: 'Team lunch' })).toMatchObject({ structuredContent: { event: { summary: 'Team lunch' } } });
    expect(await call('google__calendar_update_event', { eventId: newId })).toMatchObject({ isError: true });
    expect(await call('google__calendar_delete_event', { eventId: newId })).toMatchObject({ structuredContent: { deleted: true } });
    expect(google.calendars.get('cal@acme.com')!.some((e) => e.id === newId)).toBe(false);

    google.busy.set('x@acme.com', [{ start: '2026-12-08T14:00:00Z', end: '2026-12-08T15:00:00Z' }]);
    const fb = await call('google__calendar_free_busy', { emails: ['x@acme.com', 'nobody@acme.com'], ...range });
    expect(fb.structuredContent).toEqual({
      calendars: [
        { email: 'x@acme.com', busy: [{ start: '2026-12-08T14:00:00Z', end: '2026-12-08T15:00:00Z' }], error: null },
        { email: 'nobody@acme.com', busy: [], error: 'notFound' },
      ],
    });
    expect(google.apiRequests.filter((r) => r.path.startsWith('/calendar')).every((r) => r.sub === 'cal@acme.com')).toBe(true);
    await client.close();
  });

  it('Drive: search (quotes escaped), read Docs/Sheets as text/CSV bounded, refuse binaries, metadata with permissions, recent files', async () => {
    const { client, call } = await clientFor('drv@acme.com');
    google.files.set('drv@acme.com', [
      { id: 'doc1', name: "Q4 plan (Alice's)", mimeType: 'application/vnd.google-apps.document', content: 'Q4 goals: ship the connector. '.repeat(20), modifiedTime: '2026-12-01T10:00:00Z', permissions: [{ type: 'user', role: 'owner', emailAddress: 'drv@acme.com' }, { type: 'domain', role: 'reader', domain: 'acme.com' }] },
      { id: 'sheet1', name: 'Budget', mimeType: 'application/vnd.google-apps.spreadsheet', content: 'item,cost\nlaptops,1000\n', modifiedTime: '2026-12-03T10:00:00Z' },
      { id: 'txt1', name: 'notes.txt', mimeType: 'text/plain', content: 'plain notes', modifiedTime: '2026-11-01T10:00:00Z' },
      { id: 'bin1', name: 'photo.png', mimeType: 'image/png', content: 'PNG', modifiedTime: '2026-10-01T10:00:00Z' },
    ]);
    const found = await call('google__drive_search', { query: "Alice's" });
    expect(found.structuredContent).toMatchObject({ files: [{ id: 'doc1', mimeType: 'application/vnd.google-apps.document' }], nextPageToken: null });
    expect((await call('google__drive_search', { query: 'a', kind: 'spreadsheet' })).structuredContent).toMatchObject({ files: [{ id: 'sheet1' }] });
    expect(await call('google__drive_search', { query: 'a', kind: 'exe' })).toMatchObject({ isError: true });

    const doc = await call('google__drive_read_file', { fileId: 'doc1', maxChars: 100 });
    expect(doc.structuredContent).toMatchObject({ format: 'text/plain', truncated: true });
    expect((doc.structuredContent as { text: string }).text).toHaveLength(100);
    expect((await call('google__drive_read_file', { fileId: 'sheet1' })).structuredContent).toMatchObject({ format: 'text/csv', text: 'item,cost\nlaptops,1000\n', truncated: false });
    expect((await call('google__drive_read_file', { fileId: 'txt1' })).structuredContent).toMatchObject({ format: 'text/plain', text: 'plain notes' });
    const bin = await call('google__drive_read_file', { fileId: 'bin1' });
    expect(JSON.stringify(bin.content)).toMatch(/only Google Docs, Sheets, Slides and text files/);

    const meta = await call('google__drive_get_metadata', { fileId: 'doc1' });
    expect(meta.structuredContent).toMatchObject({ shared: true, permissions: [{ type: 'user', role: 'owner', emailAddress: 'drv@acme.com' }, { type: 'domain', role: 'reader', domain: 'acme.com' }] });
    const recent = await call('google__drive_recent_files', { pageSize: 2 });
    expect(recent.structuredContent).toMatchObject({ files: [{ id: 'sheet1' }, { id: 'doc1' }], nextPageToken: '2' });
    expect(await call('google__drive_read_file', { fileId: "doc1' or name contains 'x" })).toMatchObject({ isError: true });
    await client.close();
  });

  it('Directory: looks up colleagues of the connector domains only, as the caller (domain_public view)', async () => {
    const { client, call } = await clientFor('dir@acme.com');
    google.directory.push(
      { id: 'u1', primaryEmail: 'jane.doe@acme.com', name: { fullName: 'Jane Doe' }, organizations: [{ title: 'CFO', department: 'Finance', primary: true }], relations: [{ type: 'manager', value: 'ceo@acme.com' }] },
      { id: 'u2', primaryEmail: 'jane@partner.example', name: { fullName: 'Jane Partner' } },
    );
    const res = await call('google__directory_lookup', { query: 'Jane' });
    expect(res.structuredContent).toEqual({ people: [{ email: 'jane.doe@acme.com', name: 'Jane Doe', title: 'CFO', department: 'Finance', manager: 'ceo@acme.com', phone: null }] });
    expect((await call('google__directory_lookup', { query: 'jane.doe@' })).structuredContent).toMatchObject({ people: [{ email: 'jane.doe@acme.com' }] });
    expect(google.apiRequests.filter((r) => r.path.startsWith('/admin/directory')).every((r) => r.sub === 'dir@acme.com')).toBe(true);
    expect(await call('google__directory_lookup', { query: 'J' })).toMatchObject({ isError: true });
    await client.close();
  });
});
