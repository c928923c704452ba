import { toolResult, type ConnectorTool } from '../connector-tool.js';
import { MicrosoftToolFailure } from './microsoft-failure.js';
import { microsoftTool } from './microsoft-tool.js';
import { emails, formatAddress, gid, int, isoDateTime, localDateTime, nullableStr, object, readOnly, seg, str } from './graph-schema.js';

interface GraphEvent {
  id?: string;
  subject?: string | null;
  start?: { dateTime?: string; timeZone?: string };
  end?: { dateTime?: string; timeZone?: string };
  location?: { displayName?: string };
  organizer?: unknown;
  attendees?: { emailAddress?: { address?: string }; status?: { response?: string } }[];
  isCancelled?: boolean;
  isOnlineMeeting?: boolean;
  onlineMeeting?: { joinUrl?: string } | null;
  webLink?: string;
}

const FIELDS = 'id,subject,start,end,location,organizer,attendees,isCancelled,isOnlineMeeting,onlineMeeting,webLink';
// Times in and out in UTC unless the caller names a zone: the model never guesses the mailbox's zone.
const UTC = { prefer: 'outlook.timezone="UTC"' };
const event = object(
  {
    id: str(''), subject: nullableStr, start: nullableStr, end: nullableStr, timeZone: nullableStr, location: nullableStr, organizer: nullableStr,
    attendees: { type: 'array', items: object({ email: str(''), response: nullableStr }, ['email']) }, isCancelled: { type: 'boolean' }, joinUrl: nullableStr, webLink: nullableStr,
  },
  ['id', 'subject', 'start', 'end'],
);
const toEvent = (e: GraphEvent) => ({
  id: e.id ?? '',
  subject: e.subject ?? null,
  start: e.start?.dateTime ?? null,
  end: e.end?.dateTime ?? null,
  timeZone: e.start?.timeZone ?? null,
  location: e.location?.displayName || null,
  organizer: formatAddress(e.organizer),
  attendees: (e.attendees ?? []).map((x) => ({ email: x.emailAddress?.address ?? '', response: x.status?.response ?? null })),
  isCancelled: e.isCancelled ?? false,
  joinUrl: e.onlineMeeting?.joinUrl ?? null,
  webLink: e.webLink ?? null,
});
const line = (e: ReturnType<typeof toEvent>) => `- [${e.id}] ${e.start ?? '?'} → ${e.end ?? '?'} ${e.timeZone ?? ''} · ${e.subject ?? '(no title)'}${e.isCancelled ? ' (cancelled)' : ''}`;

const timeZone = str('Time zone of start/end (Windows or IANA name, default UTC)', { maxLength: 64, pattern: '^[A-Za-z0-9_ +/().:-]+$' });
const eventFields = {
  subject: str('Title', { maxLength: 1024 }),
  body: str('Description (plain text)', { maxLength: 8192 }),
  location: str('Location', { maxLength: 1024 }),
  start: localDateTime('Start, e.g. 2026-12-07T10:00:00 (in timeZone), or with Z / an offset'),
  end: localDateTime('End (in timeZone), or with Z / an offset'),
  timeZone,
  attendees: emails('Attendee e-mails (Outlook sends them invitations)', 100),
  onlineMeeting: { type: 'boolean', description: 'Add a Teams meeting link' },
};

/** Graph wants a local date-time plus a zone name: an offset in the input is normalised to UTC. */
function when(v: unknown, zone: string) {
  const s = String(v);
  if (/(Z|[+-]\d{2}:\d{2})$/.test(s)) return { dateTime: new Date(s).toISOString().replace(/\.\d{3}Z$/, ''), timeZone: 'UTC' };
  return { dateTime: s, timeZone: zone };
}

function eventBody(a: Record<string, unknown>) {
  const zone = String(a.timeZone ?? 'UTC');
  const start = a.start !== undefined ? when(a.start, zone) : undefined;
  const end = a.end !== undefined ? when(a.end, zone) : undefined;
  if (start && end && start.timeZone === end.timeZone && end.dateTime <= start.dateTime) throw new MicrosoftToolFailure('bad_request', 'end must be after start.');
  return {
    ...(a.subject !== undefined && { subject: String(a.subject) }),
    ...(a.body !== undefined && { body: { contentType: 'Text', content: String(a.body) } }),
    ...(a.location !== undefined && { location: { displayName: String(a.location) } }),
    ...(start && { start }),
    ...(end && { end }),
    ...(Array.isArray(a.attendees) && { attendees: a.attendees.map((address) => ({ emailAddress: { address: String(address) }, type: 'required' })) }),
    ...(a.onlineMeeting === true && { isOnlineMeeting: true, onlineMeetingProvider: 'teamsForBusiness' }),
  };
}

const listEvents: ConnectorTool = {
  name: 'microsoft__calendar_list_events',
  description: 'List the events of your Outlook calendar between two times (recurring meetings expanded into occurrences), in UTC.',
  inputSchema: object({ start: isoDateTime('Range start (ISO 8601)'), end: isoDateTime('Range end (ISO 8601; at most 62 days after start)'), maxResults: int('Events to return', 1, 100, 25) }, ['start', 'end']),
  outputSchema: object({ events: { type: 'array', items: event }, truncated: { type: 'boolean' } }, ['events', 'truncated']),
  annotations: readOnly('List Outlook calendar events'),
  run: microsoftTool('microsoft__calendar_list_events', async (g, a) => {
    const from = Date.parse(String(a.start));
    const to = Date.parse(String(a.end));
    if (!(to > from)) throw new MicrosoftToolFailure('bad_request', 'end must be after start.');
    if (to - from > 62 * 86_400_000) throw new MicrosoftToolFailure('bad_request', 'The range may span at most 62 days.');
    const max = Number(a.maxResults ?? 25);
    const { items, nextLink } = await g.pages<GraphEvent>('GET /me/calendarView', {
      path: '/me/calendarView',
      query: { startDateTime: new Date(from).toISOString(), endDateTime: new Date(to).toISOString(), $top: Math.min(max, 50), $select: FIELDS, $orderby: 'start/dateTime' },
      headers: UTC,
    }, max);
    const events = items.map(toEvent);
    return toolResult(events.map(line).join('\n') || 'No events in that range.', { events, truncated: nextLink !== null });
  }),
};

const createEvent: ConnectorTool = {
  name: 'microsoft__calendar_create_event',
  description: 'Create an event in your Outlook calendar; attendees receive Outlook invitations.',
  inputSchema: object(eventFields, ['subject', 'start', 'end']),
  outputSchema: event,
  annotations: { title: 'Create an Outlook event', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  run: microsoftTool('microsoft__calendar_create_event', async (g, a) => {
    const e = toEvent(await g.request<GraphEvent>('POST /me/events', { method: 'POST', path: '/me/events', body: eventBody(a), headers: UTC }));
    return toolResult(`Created ${line(e).slice(2)}`, e);
  }),
};

const updateEvent: ConnectorTool = {
  name: 'microsoft__calendar_update_event',
  description: 'Change an event of your Outlook calendar (only the fields given); attendees are notified by Outlook.',
  inputSchema: object({ eventId: gid('Event id (from microsoft__calendar_list_events)'), ...eventFields }, ['eventId']),
  outputSchema: event,
  annotations: { title: 'Update an Outlook event', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  run: microsoftTool('microsoft__calendar_update_event', async (g, a) => {
    const e = toEvent(await g.request<GraphEvent>('PATCH /me/events/{id}', { method: 'PATCH', path: `/me/events/${seg(a.eventId)}`, body: eventBody(a), headers: UTC, idempotent: true }));
    return toolResult(`Updated ${line(e).slice(2)}`, e);
  }),
};

const cancelEvent: ConnectorTool = {
  name: 'microsoft__calendar_cancel_event',
  description: 'Cancel a meeting you organise (attendees receive the cancellation with your comment) and remove it from your calendar.',
  inputSchema: object({ eventId: gid('Event id'), comment: str('Message to the attendees', { maxLength: 2000 }) }, ['eventId']),
  outputSchema: object({ cancelled: { type: 'boolean' }, eventId: str('') }, ['cancelled', 'eventId']),
  annotations: { title: 'Cancel an Outlook event', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  run: microsoftTool('microsoft__calendar_cancel_event', async (g, a) => {
    await g.request('POST /me/events/{id}/cancel', { method: 'POST', path: `/me/events/${seg(a.eventId)}/cancel`, body: { comment: String(a.comment ?? '') }, idempotent: true });
    return toolResult(`Cancelled event ${String(a.eventId)}.`, { cancelled: true, eventId: String(a.eventId) });
  }),
};

const findMeetingTimes: ConnectorTool = {
  name: 'microsoft__calendar_find_meeting_times',
  description: 'Suggest meeting times when you and the attendees are free (Outlook findMeetingTimes), within a window, in UTC.',
  inputSchema: object({
    attendees: { ...emails('Attendee e-mails', 20), minItems: 1 },
    durationMinutes: int('Meeting length in minutes', 5, 480, 30),
    windowStart: isoDateTime('Earliest start (ISO 8601)'),
    windowEnd: isoDateTime('Latest end (ISO 8601)'),
    maxCandidates: int('Suggestions to return', 1, 20, 5),
  }, ['attendees', 'windowStart', 'windowEnd']),
  outputSchema: object({
    suggestions: { type: 'array', items: object({ start: nullableStr, end: nullableStr, confidence: { type: 'number' }, availability: { type: 'array', items: object({ email: str(''), availability: nullableStr }, ['email']) } }, ['start', 'end']) },
    emptySuggestionsReason: nullableStr,
  }, ['suggestions', 'emptySuggestionsReason']),
  annotations: readOnly('Find meeting times'),
  run: microsoftTool('microsoft__calendar_find_meeting_times', async (g, a) => {
    const utc = (v: unknown) => ({ dateTime: new Date(String(v)).toISOString().replace(/\.\d{3}Z$/, ''), timeZone: 'UTC' });
    type Suggestion = { meetingTimeSlot?: { start?: { dateTime?: string }; end?: { dateTime?: string } }; confidence?: number; attendeeAvailability?: { attendee?: { emailAddress?: { address?: string } }; availability?: string }[] };
    const res = await g.request<{ meetingTimeSuggestions?: Suggestion[]; emptySuggestionsReason?: string }>('POST /me/findMeetingTimes', {
      method: 'POST',
      path: '/me/findMeetingTimes',
      idempotent: true,
      headers: UTC,
      body: {
        attendees: (a.attendees as string[]).map((address) => ({ emailAddress: { address }, type: 'required' })),
        timeConstraint: { activityDomain: 'work', timeSlots: [{ start: utc(a.windowStart), end: utc(a.windowEnd) }] },
        meetingDuration: `PT${Number(a.durationMinutes ?? 30)}M`,
        maxCandidates: Number(a.maxCandidates ?? 5),
        returnSuggestionReasons: false,
      },
    });
    const suggestions = (res.meetingTimeSuggestions ?? []).map((x) => ({
      start: x.meetingTimeSlot?.start?.dateTime ?? null,
      end: x.meetingTimeSlot?.end?.dateTime ?? null,
      confidence: x.confidence ?? 0,
      availability: (x.attendeeAvailability ?? []).map((y) => ({ email: y.attendee?.emailAddress?.address ?? '', availability: y.availability ?? null })),
    }));
    const text = suggestions.length ? suggestions.map((x) => `- ${x.start} → ${x.end} UTC (confidence ${x.confidence})`).join('\n') : `No time found${res.emptySuggestionsReason ? ` (${res.emptySuggestionsReason})` : ''}.`;
    return toolResult(text, { suggestions, emptySuggestionsReason: res.emptySuggestionsReason || null });
  }),
};

export const calendarTools: ConnectorTool[] = [listEvents, createEvent, updateEvent, cancelEvent, findMeetingTimes];
