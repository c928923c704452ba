import { toolResult, type ConnectorTool } from '../connector-tool.js';
import { MicrosoftToolFailure } from './microsoft-failure.js';
import { microsoftTool } from './microsoft-tool.js';
import { emails, formatAddress, gid, int, kql, nextLink, nullableStr, object, readOnly, recipients, seg, str } from './graph-schema.js';

interface GraphMessage {
  id?: string;
  conversationId?: string;
  subject?: string | null;
  from?: unknown;
  toRecipients?: unknown[];
  ccRecipients?: unknown[];
  receivedDateTime?: string | null;
  bodyPreview?: string;
  isRead?: boolean;
  hasAttachments?: boolean;
  webLink?: string;
  body?: { contentType?: string; content?: string };
}

const SUMMARY_FIELDS = 'id,conversationId,subject,from,toRecipients,receivedDateTime,bodyPreview,isRead,hasAttachments,webLink';
const summary = object(
  { id: str(''), conversationId: nullableStr, from: nullableStr, to: { type: 'array', items: { type: 'string' } }, subject: nullableStr, receivedAt: nullableStr, preview: str(''), isRead: { type: 'boolean' }, hasAttachments: { type: 'boolean' }, webLink: nullableStr },
  ['id', 'from', 'subject', 'receivedAt', 'preview'],
);
const toSummary = (m: GraphMessage) => ({
  id: m.id ?? '',
  conversationId: m.conversationId ?? null,
  from: formatAddress(m.from),
  to: (m.toRecipients ?? []).map(formatAddress).filter((x): x is string => x !== null),
  subject: m.subject ?? null,
  receivedAt: m.receivedDateTime ?? null,
  preview: m.bodyPreview ?? '',
  isRead: m.isRead ?? false,
  hasAttachments: m.hasAttachments ?? false,
  webLink: m.webLink ?? null,
});

const mailSearch: ConnectorTool = {
  name: 'microsoft__mail_search',
  description: 'Search your Outlook mailbox with Microsoft Search (KQL, e.g. "from:alice subject:budget" or plain words). Returns sender, subject, date and a preview per message, newest first.',
  inputSchema: object({ query: str('Search text or KQL (from:, to:, subject:, hasattachments:true, received>=2026-01-01)', { minLength: 1, maxLength: 1000 }), maxResults: int('Messages to return', 1, 50, 10), nextLink }, ['query']),
  outputSchema: object({ messages: { type: 'array', items: summary }, nextLink: nullableStr }, ['messages', 'nextLink']),
  annotations: readOnly('Search Outlook mail'),
  run: microsoftTool('microsoft__mail_search', async (g, a) => {
    const max = Number(a.maxResults ?? 10);
    const req = a.nextLink ? { path: String(a.nextLink) } : { path: '/me/messages', query: { $search: kql(a.query), $top: max, $select: SUMMARY_FIELDS } };
    const { items, nextLink: more } = await g.pages<GraphMessage>('GET /me/messages?$search', req, max, 3);
    const messages = items.map(toSummary);
    const text = messages.length
      ? messages.map((m) => `- [${m.id}] ${m.receivedAt ?? ''} · ${m.from ?? '?'} · ${m.subject ?? '(no subject)'}`).join('\n') + (more ? '\n(more: pass nextLink)' : '')
      : 'No messages match.';
    return toolResult(text, { messages, nextLink: more });
  }),
};

const mailRead: ConnectorTool = {
  name: 'microsoft__mail_read',
  description: 'Read one Outlook message as text: headers, body (bounded) and the list of attachments.',
  inputSchema: object({ messageId: gid('Message id (from microsoft__mail_search)'), maxChars: int('Longest body returned, in characters (the rest is cut)', 100, 100_000, 20_000) }, ['messageId']),
  outputSchema: object(
    {
      ...summary.properties, cc: { type: 'array', items: { type: 'string' } }, body: str(''), bodyTruncated: { type: 'boolean' },
      attachments: { type: 'array', items: object({ id: str(''), name: str(''), contentType: nullableStr, size: { type: 'integer' } }, ['name', 'size']) },
    },
    ['id', 'subject', 'body', 'bodyTruncated', 'attachments'],
  ),
  annotations: readOnly('Read an Outlook message'),
  run: microsoftTool('microsoft__mail_read', async (g, a) => {
    const id = seg(a.messageId);
    // Prefer text bodies: Graph converts HTML to text for us (outlook.body-content-type).
    const m = await g.request<GraphMessage>('GET /me/messages/{id}', { path: `/me/messages/${id}`, query: { $select: `${SUMMARY_FIELDS},ccRecipients,body` }, headers: { prefer: 'outlook.body-content-type="text"' } });
    const att = m.hasAttachments ? await g.pages<{ id?: string; name?: string; contentType?: string; size?: number }>('GET /me/messages/{id}/attachments', { path: `/me/messages/${id}/attachments`, query: { $select: 'id,name,contentType,size' } }, 100, 2) : { items: [] };
    const limit = Number(a.maxChars ?? 20_000);
    const full = m.body?.content ?? '';
    const out = {
      ...toSummary(m),
      cc: (m.ccRecipients ?? []).map(formatAddress).filter((x): x is string => x !== null),
      body: full.slice(0, limit),
      bodyTruncated: full.length > limit,
      attachments: att.items.map((x) => ({ id: x.id ?? '', name: x.name ?? '', contentType: x.contentType ?? null, size: x.size ?? 0 })),
    };
    const text = `From: ${out.from ?? ''}\nTo: ${out.to.join(', ')}\n${out.cc.length ? `Cc: ${out.cc.join(', ')}\n` : ''}Date: ${out.receivedAt ?? ''}\nSubject: ${out.subject ?? ''}\n${out.attachments.length ? `Attachments: ${out.attachments.map((x) => x.name).join(', ')}\n` : ''}\n${out.body}${out.bodyTruncated ? '\n[…truncated]' : ''}`;
    return toolResult(text, out);
  }),
};

const mailCreateDraft: ConnectorTool = {
  name: 'microsoft__mail_create_draft',
  description: 'Create a plain-text Outlook draft: a new message, or a reply to a message (replyToMessageId; recipients default to the sender). Nothing is sent: the draft waits in Drafts for you, or for microsoft__mail_send_draft.',
  inputSchema: object(
    {
      to: emails('Recipients (required for a new message; for a reply, replaces the default recipients)', 100),
      cc: emails('Cc recipients'),
      bcc: emails('Bcc recipients'),
      subject: str('Subject line (new messages; a reply keeps "RE: …")', { maxLength: 998, pattern: '^[^\\r\\n]*$' }),
      body: str('Plain-text body', { maxLength: 200_000 }),
      replyToMessageId: gid('Message id to reply to: the draft joins its conversation'),
      replyAll: { type: 'boolean', description: 'Reply to all recipients of the original (default false)', default: false },
    },
    ['body'],
  ),
  outputSchema: object({ draftId: str(''), conversationId: nullableStr, webLink: nullableStr }, ['draftId', 'conversationId', 'webLink']),
  annotations: { title: 'Create an Outlook draft', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  run: microsoftTool('microsoft__mail_create_draft', async (g, a) => {
    const addressed = {
      ...(Array.isArray(a.to) && a.to.length > 0 && { toRecipients: recipients(a.to) }),
      ...(Array.isArray(a.cc) && a.cc.length > 0 && { ccRecipients: recipients(a.cc) }),
      ...(Array.isArray(a.bcc) && a.bcc.length > 0 && { bccRecipients: recipients(a.bcc) }),
    };
    let draft: GraphMessage;
    if (a.replyToMessageId) {
      const action = a.replyAll === true ? 'createReplyAll' : 'createReply';
      // createReply(All) builds the draft with the quoted original, In-Reply-To and the conversation (Graph message actions).
      draft = await g.request<GraphMessage>(`POST /me/messages/{id}/${action}`, { method: 'POST', path: `/me/messages/${seg(a.replyToMessageId)}/${action}`, body: { message: addressed, comment: String(a.body) } });
    } else {
      if (!addressed.toRecipients) throw new MicrosoftToolFailure('bad_request', 'A new message needs at least one recipient in "to".');
      draft = await g.request<GraphMessage>('POST /me/messages', { method: 'POST', path: '/me/messages', body: { subject: String(a.subject ?? ''), body: { contentType: 'Text', content: String(a.body) }, ...addressed } });
    }
    const out = { draftId: draft.id ?? '', conversationId: draft.conversationId ?? null, webLink: draft.webLink ?? null };
    return toolResult(`Draft ${out.draftId} created (not sent).`, out);
  }),
};

const mailSendDraft: ConnectorTool = {
  name: 'microsoft__mail_send_draft',
  description: 'Send an existing Outlook draft as you. Sending cannot be undone; approve this tool separately from drafting.',
  inputSchema: object({ draftId: gid('Draft id (from microsoft__mail_create_draft)') }, ['draftId']),
  outputSchema: object({ sent: { type: 'boolean' }, draftId: str('') }, ['sent', 'draftId']),
  annotations: { title: 'Send an Outlook draft', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  run: microsoftTool('microsoft__mail_send_draft', async (g, a) => {
    await g.request('POST /me/messages/{id}/send', { method: 'POST', path: `/me/messages/${seg(a.draftId)}/send`, idempotent: false });
    return toolResult(`Sent (draft ${String(a.draftId)}).`, { sent: true, draftId: String(a.draftId) });
  }),
};

export const mailTools: ConnectorTool[] = [mailSearch, mailRead, mailCreateDraft, mailSendDraft];
