import type { calendar_v3 } from 'googleapis';
import { toolResult, type ConnectorTool } from '../connector-tool.js';
import { GoogleToolFailure, googleTool } from './google-call.js';
import { GOOGLE_TOOL_SCOPES } from './google-scopes.js';
import { emails, id, int, nullableStr, object, pageToken, readOnly, str } from './schema-parts.js';

// Calendar ids are e-mail-like, and Google's own calendars contain '#' (en.usa#holiday@group.v.calendar.google.com).
const calendarId = { ...id('Calendar id from google__calendar_list_calendars (default "primary", your own calendar)'), pattern: '^[A-Za-z0-9_@.:#+-]+$', default: 'primary' };
const dateTime = (description: string) => str(description, { format: 'date-time' });
const when = object({ dateTime: nullableStr, date: nullableStr, timeZone: nullableStr });
const event = object(
  {
    id: str('Event id'), summary: nullableStr, start: when, end: when, location: nullableStr, status: nullableStr, htmlLink: nullableStr,
    organizer: nullableStr, attendees: { type: 'array', items: object({ email: str(''), responseStatus: nullableStr }, ['email']) }, description: nullableStr,
  },
  ['id', 'summary', 'start', 'end'],
);
const sendUpdates = { type: 'string', enum: ['all', 'externalOnly', 'none'], default: 'none', description: 'Whom Google e-mails about the change' };
const eventFields = {
  summary: str('Title', { maxLength: 1024 }),
  description: str('Description', { maxLength: 8192 }),
  location: str('Location', { maxLength: 1024 }),
  start: dateTime('Start (RFC 3339, e.g. 2026-12-07T10:00:00+01:00)'),
  end: dateTime('End (RFC 3339)'),
  timeZone: str('IANA time zone, e.g. Europe/Berlin', { maxLength: 64, pattern: '^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$' }),
  attendees: emails('Attendee e-mails', 100),
  sendUpdates,
};

const at = (w: calendar_v3.Schema$EventDateTime | undefined) => ({ dateTime: w?.dateTime ?? null, date: w?.date ?? null, timeZone: w?.timeZone ?? null });
const toEvent = (e: calendar_v3.Schema$Event, withDescription = false) => ({
  id: e.id ?? '',
  summary: e.summary ?? null,
  start: at(e.start),
  end: at(e.end),
  location: e.location ?? null,
  status: e.status ?? null,
  htmlLink: e.htmlLink ?? null,
  organizer: e.organizer?.email ?? null,
  attendees: (e.attendees ?? []).map((a) => ({ email: a.email ?? '', responseStatus: a.responseStatus ?? null })),
  description: withDescription ? (e.description ?? '').slice(0, 8192) || null : null,
});
const line = (e: ReturnType<typeof toEvent>) => `- [${e.id}] ${e.start.dateTime ?? e.start.date ?? '?'} → ${e.end.dateTime ?? e.end.date ?? '?'} · ${e.summary ?? '(no title)'}`;

function requestBody(a: Record<string, unknown>): calendar_v3.Schema$Event {
  const tz = a.timeZone ? { timeZone: String(a.timeZone) } : {};
  if (a.start && a.end && Date.parse(String(a.end)) <= Date.parse(String(a.start))) throw new GoogleToolFailure('bad_request', 'end must be after start.');
  return {
    ...(a.summary !== undefined && { summary: String(a.summary) }),
    ...(a.description !== undefined && { description: String(a.description) }),
    ...(a.location !== undefined && { location: String(a.location) }),
    ...(a.start !== undefined && { start: { dateTime: String(a.start), ...tz } }),
    ...(a.end !== undefined && { end: { dateTime: String(a.end), ...tz } }),
    ...(Array.isArray(a.attendees) && { attendees: a.attendees.map((email) => ({ email: String(email) })) }),
  };
}

const client = async (g: Parameters<Parameters<typeof googleTool>[2]>[0]) => (await g.googleapis()).calendar({ version: 'v3', ...(await g.options()) });
const cal = (a: Record<string, unknown>) => String(a.calendarId ?? 'primary');
const sendUpdatesOf = (a: Record<string, unknown>) => String(a.sendUpdates ?? 'none');

export const calendarTools: ConnectorTool[] = [
  {
    name: 'google__calendar_list_calendars',
    description: 'List the calendars you have in Google Calendar (yours and those shared with you), with their ids.',
    inputSchema: object({ maxResults: int('Calendars per page', 1, 250, 100), pageToken }),
    outputSchema: object({ calendars: { type: 'array', items: object({ id: str(''), summary: nullableStr, primary: { type: 'boolean' }, accessRole: nullableStr, timeZone: nullableStr }, ['id']) }, nextPageToken: nullableStr }, ['calendars', 'nextPageToken']),
    annotations: readOnly('List calendars'),
    run: googleTool('google__calendar_list_calendars', GOOGLE_TOOL_SCOPES.google__calendar_list_calendars, async (g, a) => {
      const calendar = await client(g);
      const res = await g.api('calendar.calendarList.list', (o) => calendar.calendarList.list({ maxResults: Number(a.maxResults ?? 100), ...(a.pageToken ? { pageToken: String(a.pageToken) } : {}) }, o));
      const calendars = (res.items ?? []).map((c) => ({ id: c.id ?? '', summary: c.summary ?? null, primary: c.primary === true, accessRole: c.accessRole ?? null, timeZone: c.timeZone ?? null }));
      return toolResult(calendars.map((c) => `- ${c.summary ?? c.id} (${c.id})${c.primary ? ' [primary]' : ''}`).join('\n') || 'No calendars.', { calendars, nextPageToken: res.nextPageToken ?? null });
    }),
  },
  {
    name: 'google__calendar_list_events',
    description: 'List or search events of a calendar in a time range (recurring events expanded, ordered by start).',
    inputSchema: object(
      { calendarId, timeMin: dateTime('Range start (RFC 3339)'), timeMax: dateTime('Range end (RFC 3339)'), query: str('Free-text search in title, description, location, attendees', { maxLength: 500 }), maxResults: int('Events per page', 1, 250, 25), pageToken },
      ['timeMin', 'timeMax'],
    ),
    outputSchema: object({ events: { type: 'array', items: event }, nextPageToken: nullableStr }, ['events', 'nextPageToken']),
    annotations: readOnly('List calendar events'),
    run: googleTool('google__calendar_list_events', GOOGLE_TOOL_SCOPES.google__calendar_list_events, async (g, a) => {
      if (Date.parse(String(a.timeMax)) <= Date.parse(String(a.timeMin))) throw new GoogleToolFailure('bad_request', 'timeMax must be after timeMin.');
      const calendar = await client(g);
      const res = await g.api('calendar.events.list', (o) =>
        calendar.events.list(
          { calendarId: cal(a), timeMin: String(a.timeMin), timeMax: String(a.timeMax), singleEvents: true, orderBy: 'startTime', maxResults: Number(a.maxResults ?? 25), ...(a.query ? { q: String(a.query) } : {}), ...(a.pageToken ? { pageToken: String(a.pageToken) } : {}) },
          o,
        ),
      );
      const events = (res.items ?? []).map((e) => toEvent(e));
      return toolResult(events.map(line).join('\n') || 'No events in this range.', { events, nextPageToken: res.nextPageToken ?? null });
    }),
  },
  {
    name: 'google__calendar_get_event',
    description: 'Get one calendar event with its description and attendees.',
    inputSchema: object({ calendarId, eventId: id('Event id') }, ['eventId']),
    outputSchema: object({ event }, ['event']),
    annotations: readOnly('Get a calendar event'),
    run: googleTool('google__calendar_get_event', GOOGLE_TOOL_SCOPES.google__calendar_get_event, async (g, a) => {
      const calendar = await client(g);
      const e = toEvent(await g.api('calendar.events.get', (o) => calendar.events.get({ calendarId: cal(a), eventId: String(a.eventId) }, o)), true);
      return toolResult(`${line(e)}${e.location ? `\nWhere: ${e.location}` : ''}${e.attendees.length ? `\nAttendees: ${e.attendees.map((x) => x.email).join(', ')}` : ''}${e.description ? `\n\n${e.description}` : ''}`, { event: e });
    }),
  },
  {
    name: 'google__calendar_create_event',
    description: 'Create an event in your calendar (optionally inviting attendees; Google e-mails them only if sendUpdates says so).',
    inputSchema: object({ calendarId, ...eventFields }, ['summary', 'start', 'end']),
    outputSchema: object({ event }, ['event']),
    annotations: { title: 'Create a calendar event', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    run: googleTool('google__calendar_create_event', GOOGLE_TOOL_SCOPES.google__calendar_create_event, async (g, a) => {
      const calendar = await client(g);
      const body = requestBody(a);
      const e = toEvent(await g.api('calendar.events.insert', (o) => calendar.events.insert({ calendarId: cal(a), sendUpdates: sendUpdatesOf(a), requestBody: body }, o), false));
      return toolResult(`Created: ${line(e)}`, { event: e });
    }),
  },
  {
    name: 'google__calendar_update_event',
    description: 'Change fields of an existing event (only the fields given). Attendees given replace the attendee list.',
    inputSchema: object({ calendarId, eventId: id('Event id'), ...eventFields }, ['eventId']),
    outputSchema: object({ event }, ['event']),
    annotations: { title: 'Update a calendar event', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    run: googleTool('google__calendar_update_event', GOOGLE_TOOL_SCOPES.google__calendar_update_event, async (g, a) => {
      const calendar = await client(g);
      const body = requestBody(a);
      if (Object.keys(body).length === 0) throw new GoogleToolFailure('bad_request', 'Nothing to change: give at least one field.');
      const e = toEvent(await g.api('calendar.events.patch', (o) => calendar.events.patch({ calendarId: cal(a), eventId: String(a.eventId), sendUpdates: sendUpdatesOf(a), requestBody: body }, o)));
      return toolResult(`Updated: ${line(e)}`, { event: e });
    }),
  },
  {
    name: 'google__calendar_delete_event',
    description: 'Delete (cancel) an event of your calendar.',
    inputSchema: object({ calendarId, eventId: id('Event id'), sendUpdates }, ['eventId']),
    outputSchema: object({ deleted: { type: 'boolean' }, eventId: str('') }, ['deleted', 'eventId']),
    annotations: { title: 'Delete a calendar event', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
    run: googleTool('google__calendar_delete_event', GOOGLE_TOOL_SCOPES.google__calendar_delete_event, async (g, a) => {
      const calendar = await client(g);
      await g.api('calendar.events.delete', (o) => calendar.events.delete({ calendarId: cal(a), eventId: String(a.eventId), sendUpdates: sendUpdatesOf(a) }, o));
      return toolResult(`Deleted event ${String(a.eventId)}.`, { deleted: true, eventId: String(a.eventId) });
    }),
  },
  {
    name: 'google__calendar_free_busy',
    description: 'When are these colleagues busy in a time range? (Free/busy blocks only, never event details.)',
    inputSchema: object({ emails: { ...emails('Colleagues (or calendar ids)', 50), minItems: 1 }, timeMin: dateTime('Range start (RFC 3339)'), timeMax: dateTime('Range end (RFC 3339)') }, ['emails', 'timeMin', 'timeMax']),
    outputSchema: object({ calendars: { type: 'array', items: object({ email: str(''), busy: { type: 'array', items: object({ start: str(''), end: str('') }, ['start', 'end']) }, error: nullableStr }, ['email', 'busy', 'error']) } }, ['calendars']),
    annotations: readOnly('Free/busy'),
    run: googleTool('google__calendar_free_busy', GOOGLE_TOOL_SCOPES.google__calendar_free_busy, async (g, a) => {
      if (Date.parse(String(a.timeMax)) <= Date.parse(String(a.timeMin))) throw new GoogleToolFailure('bad_request', 'timeMax must be after timeMin.');
      const calendar = await client(g);
      const list = (a.emails as string[]).map(String);
      const res = await g.api('calendar.freebusy.query', (o) => calendar.freebusy.query({ requestBody: { timeMin: String(a.timeMin), timeMax: String(a.timeMax), items: list.map((x) => ({ id: x })) } }, o));
      const calendars = list.map((email) => {
        const c = res.calendars?.[email];
        return { email, busy: (c?.busy ?? []).map((b) => ({ start: b.start ?? '', end: b.end ?? '' })), error: c?.errors?.[0]?.reason ?? null };
      });
      return toolResult(calendars.map((c) => `${c.email}: ${c.error ? `unavailable (${c.error})` : c.busy.length ? c.busy.map((b) => `${b.start}–${b.end}`).join(', ') : 'free'}`).join('\n'), { calendars });
    }),
  },
];
