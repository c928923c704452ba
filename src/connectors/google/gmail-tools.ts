import { toolResult, type ConnectorTool } from '../connector-tool.js';
import { GoogleToolFailure, googleTool } from './google-call.js';
import { GOOGLE_TOOL_SCOPES } from './google-scopes.js';
import { assertHeaderSafe, buildRawMessage, header, readMessage } from './gmail-message.js';
import { emails, id, int, nullableStr, object, pageToken, readOnly, str } from './schema-parts.js';

const summary = object(
  { id: str(''), threadId: str(''), from: nullableStr, to: nullableStr, subject: nullableStr, date: nullableStr, snippet: str(''), labelIds: { type: 'array', items: { type: 'string' } } },
  ['id', 'threadId', 'from', 'subject', 'date', 'snippet'],
);
const attachment = object({ filename: str(''), mimeType: str(''), size: { type: 'integer' }, attachmentId: nullableStr }, ['filename', 'mimeType', 'size']);
const fullMessage = object(
  {
    id: str(''), threadId: str(''), from: nullableStr, to: nullableStr, cc: nullableStr, subject: nullableStr, date: nullableStr,
    labelIds: { type: 'array', items: { type: 'string' } }, body: str(''), bodyTruncated: { type: 'boolean' }, attachments: { type: 'array', items: attachment },
  },
  ['id', 'threadId', 'body', 'bodyTruncated', 'attachments'],
);
const maxChars = int('Longest body returned per message, in characters (the rest is cut)', 100, 100_000, 20_000);

const gmailSearch: ConnectorTool = {
  name: 'google__gmail_search',
  description: 'Search your Gmail with Gmail search syntax (e.g. "from:alice@acme.com is:unread newer_than:7d"). Returns sender, subject, date and snippet per message.',
  inputSchema: object({ query: str('Gmail search query (same syntax as the Gmail search box)', { minLength: 1, maxLength: 1000 }), maxResults: int('Messages per page', 1, 50, 10), pageToken }, ['query']),
  outputSchema: object({ messages: { type: 'array', items: summary }, nextPageToken: nullableStr }, ['messages', 'nextPageToken']),
  annotations: readOnly('Search Gmail'),
  run: googleTool('google__gmail_search', GOOGLE_TOOL_SCOPES.google__gmail_search, async (g, a) => {
    const gmail = (await g.googleapis()).gmail({ version: 'v1', ...(await g.options()) });
    const list = await g.api('gmail.users.messages.list', (o) =>
      gmail.users.messages.list({ userId: 'me', q: String(a.query), maxResults: Number(a.maxResults ?? 10), ...(a.pageToken ? { pageToken: String(a.pageToken) } : {}) }, o),
    );
    const messages = [];
    for (const m of list.messages ?? []) {
      const full = await g.api('gmail.users.messages.get', (o) =>
        gmail.users.messages.get({ userId: 'me', id: m.id!, format: 'metadata', metadataHeaders: ['From', 'To', 'Subject', 'Date'] }, o),
      );
      messages.push({
        id: full.id ?? m.id!, threadId: full.threadId ?? '', from: header(full.payload, 'From'), to: header(full.payload, 'To'),
        subject: header(full.payload, 'Subject'), date: header(full.payload, 'Date'), snippet: full.snippet ?? '', labelIds: full.labelIds ?? [],
      });
    }
    const text = messages.length
      ? messages.map((m) => `- [${m.id}] ${m.date ?? ''} · ${m.from ?? '?'} · ${m.subject ?? '(no subject)'}`).join('\n') + (list.nextPageToken ? '\n(more: pass nextPageToken)' : '')
      : 'No messages match.';
    return toolResult(text, { messages, nextPageToken: list.nextPageToken ?? null });
  }),
};

const gmailRead: ConnectorTool = {
  name: 'google__gmail_read',
  description: 'Read one Gmail message, or a whole thread, as text: headers, body (bounded) and the list of attachments.',
  // Exactly one of messageId/threadId, checked in code: several clients refuse a top-level oneOf in a tool schema.
  inputSchema: object({ messageId: id('Message id (from google__gmail_search); give this or threadId'), threadId: id('Thread id, to read every message of the thread'), maxChars }),
  outputSchema: object({ messages: { type: 'array', items: fullMessage } }, ['messages']),
  annotations: readOnly('Read a Gmail message or thread'),
  run: googleTool('google__gmail_read', GOOGLE_TOOL_SCOPES.google__gmail_read, async (g, a) => {
    const gmail = (await g.googleapis()).gmail({ version: 'v1', ...(await g.options()) });
    if (!a.messageId === !a.threadId) throw new GoogleToolFailure('bad_request', 'Give exactly one of messageId or threadId.');
    const limit = Number(a.maxChars ?? 20_000);
    const raw = a.messageId
      ? [await g.api('gmail.users.messages.get', (o) => gmail.users.messages.get({ userId: 'me', id: String(a.messageId), format: 'full' }, o))]
      : ((await g.api('gmail.users.threads.get', (o) => gmail.users.threads.get({ userId: 'me', id: String(a.threadId), format: 'full' }, o))).messages ?? []);
    const messages = raw.map((m) => readMessage(m, limit));
    const text = messages
      .map((m) => `From: ${m.from ?? ''}\nTo: ${m.to ?? ''}\nDate: ${m.date ?? ''}\nSubject: ${m.subject ?? ''}\n${m.attachments.length ? `Attachments: ${m.attachments.map((x) => x.filename).join(', ')}\n` : ''}\n${m.body}${m.bodyTruncated ? '\n[…truncated]' : ''}`)
      .join('\n\n---\n\n');
    return toolResult(text || 'Empty thread.', { messages });
  }),
};

const gmailCreateDraft: ConnectorTool = {
  name: 'google__gmail_create_draft',
  description: 'Create a plain-text Gmail draft (new, or a reply in a thread). Nothing is sent: the draft waits in Drafts for you, or for google__gmail_send_draft.',
  inputSchema: object(
    {
      to: { ...emails('Recipients', 100), minItems: 1 },
      cc: emails('Cc recipients'),
      bcc: emails('Bcc recipients'),
      subject: str('Subject line (no line breaks)', { maxLength: 998 }),
      body: str('Plain-text body', { maxLength: 200_000 }),
      replyToMessageId: id('Message id to reply to: the draft joins its thread'),
    },
    ['to', 'subject', 'body'],
  ),
  outputSchema: object({ draftId: str(''), messageId: str(''), threadId: nullableStr }, ['draftId', 'messageId', 'threadId']),
  annotations: { title: 'Create a Gmail draft', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  run: googleTool('google__gmail_create_draft', GOOGLE_TOOL_SCOPES.google__gmail_create_draft, async (g, a) => {
    const subject = String(a.subject);
    try {
      assertHeaderSafe('subject', subject);
    } catch (err) {
      throw new GoogleToolFailure('bad_request', (err as Error).message);
    }
    const gmail = (await g.googleapis()).gmail({ version: 'v1', ...(await g.options()) });
    let threadId: string | null = null;
    let inReplyTo: string | null = null;
    let references: string | null = null;
    if (a.replyToMessageId) {
      const orig = await g.api('gmail.users.messages.get', (o) =>
        gmail.users.messages.get({ userId: 'me', id: String(a.replyToMessageId), format: 'metadata', metadataHeaders: ['Message-ID', 'References'] }, o),
      );
      threadId = orig.threadId ?? null;
      inReplyTo = header(orig.payload, 'Message-ID');
      references = header(orig.payload, 'References');
      if (inReplyTo && !/^<[^<>\s]+>$/.test(inReplyTo)) inReplyTo = null;
      if (references && !/^[^\r\n]*$/.test(references)) references = null;
    }
    const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
    const raw = buildRawMessage({ to: list(a.to), cc: list(a.cc), bcc: list(a.bcc), subject, body: String(a.body), inReplyTo, references });
    const draft = await g.api('gmail.users.drafts.create', (o) => gmail.users.drafts.create({ userId: 'me', requestBody: { message: { raw, ...(threadId && { threadId }) } } }, o), false);
    const out = { draftId: draft.id ?? '', messageId: draft.message?.id ?? '', threadId: draft.message?.threadId ?? threadId };
    return toolResult(`Draft ${out.draftId} created (not sent).`, out);
  }),
};

const gmailSendDraft: ConnectorTool = {
  name: 'google__gmail_send_draft',
  description: 'Send an existing Gmail draft as you. Sending cannot be undone; approve this tool separately from drafting.',
  inputSchema: object({ draftId: id('Draft id (from google__gmail_create_draft)') }, ['draftId']),
  outputSchema: object({ messageId: str(''), threadId: nullableStr }, ['messageId', 'threadId']),
  annotations: { title: 'Send a Gmail draft', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  run: googleTool('google__gmail_send_draft', GOOGLE_TOOL_SCOPES.google__gmail_send_draft, async (g, a) => {
    const gmail = (await g.googleapis()).gmail({ version: 'v1', ...(await g.options()) });
    const sent = await g.api('gmail.users.drafts.send', (o) => gmail.users.drafts.send({ userId: 'me', requestBody: { id: String(a.draftId) } }, o), false);
    const out = { messageId: sent.id ?? '', threadId: sent.threadId ?? null };
    return toolResult(`Sent (message ${out.messageId}).`, out);
  }),
};

const gmailListLabels: ConnectorTool = {
  name: 'google__gmail_list_labels',
  description: 'List your Gmail labels (system and your own), with their ids for search queries ("label:…").',
  inputSchema: object({}),
  outputSchema: object({ labels: { type: 'array', items: object({ id: str(''), name: str(''), type: nullableStr }, ['id', 'name', 'type']) } }, ['labels']),
  annotations: readOnly('List Gmail labels'),
  run: googleTool('google__gmail_list_labels', GOOGLE_TOOL_SCOPES.google__gmail_list_labels, async (g) => {
    const gmail = (await g.googleapis()).gmail({ version: 'v1', ...(await g.options()) });
    const res = await g.api('gmail.users.labels.list', (o) => gmail.users.labels.list({ userId: 'me' }, o));
    const labels = (res.labels ?? []).map((l) => ({ id: l.id ?? '', name: l.name ?? '', type: l.type ?? null }));
    return toolResult(labels.map((l) => `- ${l.name} (${l.id})`).join('\n') || 'No labels.', { labels });
  }),
};

export const gmailTools: ConnectorTool[] = [gmailSearch, gmailRead, gmailCreateDraft, gmailSendDraft, gmailListLabels];
