import type { gmail_v1 } from 'googleapis';

type Part = gmail_v1.Schema$MessagePart;

export const header = (part: Part | undefined, name: string) =>
  part?.headers?.find((h) => h.name?.toLowerCase() === name.toLowerCase())?.value ?? null;

const decode = (data: string | null | undefined) => (data ? Buffer.from(data, 'base64url').toString('utf8') : '');

/** Crude but safe HTML → text for mails without a text/plain part (no markup reaches the model). */
const htmlToText = (html: string) =>
  html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>|<\/p>|<\/div>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    // Last, so "&amp;lt;" stays the text "&lt;" (decoded once, as a browser shows it).
    .replace(/&amp;/g, '&')
    .replace(/\n{3,}/g, '\n\n')
    .trim();

function walk(part: Part | undefined, visit: (p: Part) => void) {
  if (!part) return;
  visit(part);
  for (const p of part.parts ?? []) walk(p, visit);
}

/** The readable body (text/plain preferred, else text/html stripped), cut at `maxChars`. */
export function messageText(payload: Part | undefined, maxChars: number): { text: string; truncated: boolean } {
  let plain = '';
  let html = '';
  walk(payload, (p) => {
    if (p.filename) return;
    if (p.mimeType === 'text/plain' && !plain) plain = decode(p.body?.data);
    if (p.mimeType === 'text/html' && !html) html = decode(p.body?.data);
  });
  const text = plain || htmlToText(html);
  return { text: text.slice(0, maxChars), truncated: text.length > maxChars };
}

export function attachments(payload: Part | undefined) {
  const out: { filename: string; mimeType: string; size: number; attachmentId: string | null }[] = [];
  walk(payload, (p) => {
    if (p.filename) out.push({ filename: p.filename, mimeType: p.mimeType ?? 'application/octet-stream', size: p.body?.size ?? 0, attachmentId: p.body?.attachmentId ?? null });
  });
  return out;
}

/** One message as the read tools return it. */
export function readMessage(m: gmail_v1.Schema$Message, maxChars: number) {
  const body = messageText(m.payload, maxChars);
  return {
    id: m.id ?? '',
    threadId: m.threadId ?? '',
    from: header(m.payload, 'From'),
    to: header(m.payload, 'To'),
    cc: header(m.payload, 'Cc'),
    subject: header(m.payload, 'Subject'),
    date: header(m.payload, 'Date'),
    labelIds: m.labelIds ?? [],
    body: body.text,
    bodyTruncated: body.truncated,
    attachments: attachments(m.payload),
  };
}

// RFC 5322 §2.2: a header field body must not contain CR or LF (unfolded here); refusing them stops header injection.
const NO_CRLF = /^[^\r\n]*$/;

export function assertHeaderSafe(name: string, value: string): void {
  if (!NO_CRLF.test(value)) throw new Error(`${name} must not contain line breaks`);
}

/** RFC 2047 encoded-word for a non-ASCII Subject. */
const encodeHeader = (v: string) => (/^[\x20-\x7e]*$/.test(v) ? v : `=?UTF-8?B?${Buffer.from(v, 'utf8').toString('base64')}?=`);

/** A plain-text RFC 5322 message, base64url-encoded as Gmail's `raw` wants it. */
export function buildRawMessage(m: { to: string[]; cc: string[]; bcc: string[]; subject: string; body: string; inReplyTo?: string | null; references?: string | null }): string {
  const lines = [
    `To: ${m.to.join(', ')}`,
    ...(m.cc.length ? [`Cc: ${m.cc.join(', ')}`] : []),
    ...(m.bcc.length ? [`Bcc: ${m.bcc.join(', ')}`] : []),
    `Subject: ${encodeHeader(m.subject)}`,
    ...(m.inReplyTo ? [`In-Reply-To: ${m.inReplyTo}`, `References: ${m.references ? `${m.references} ` : ''}${m.inReplyTo}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset="UTF-8"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from(m.body, 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n'),
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8').toString('base64url');
}
