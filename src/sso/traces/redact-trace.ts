/**
 * One redaction for everything an SSO trace stores (issue 8 §6), applied where the trace is written so that no code
 * path can store an e-mail or a subject in clear: e-mails become `a***@domain` wherever they appear (summary values,
 * the reason text), subjects (`nameId`, `sub`, `subject` keys) become `ab***`, and every string is bounded and
 * has its control and bidi characters escaped (an admin reads traces in a terminal).
 */
const EMAIL_IN_TEXT = /[^\s@<>()"',;:]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g;
const SUBJECT_KEYS = new Set(['nameid', 'sub', 'subject']);
// C0/C1 controls, and the bidi overrides/isolates that can make a trace read differently from what it stores.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const MAX_STRING = 300;
const MAX_DEPTH = 4;
const MAX_ITEMS = 100;

/** `alice@example.com` → `a***@example.com`: enough to recognise, not enough to harvest. */
export function maskEmail(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const [local, domain] = value.split('@');
  return domain ? `${local!.slice(0, 1)}***@${domain}` : `${value.slice(0, 2)}***`;
}

/** A subject (NameID, `sub`) is masked like an e-mail: `ab***`, or `a***@domain` when it is one (idempotent). */
export const maskSubject = maskEmail;

/** Escapes what may not be shown raw and bounds the length; e-mails inside the text are masked. */
export function safeText(value: string, max = MAX_STRING): string {
  const masked = value.replace(EMAIL_IN_TEXT, (m) => maskEmail(m)!);
  const escaped = masked.replace(UNSAFE_CHARS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}

/**
 * An IdP's `error` / `error_description` (RFC 6749 §4.1.2.1) as a trace may keep them: the code only when it uses the
 * RFC's character set, the description bounded, quoted and escaped — never stored verbatim.
 */
export function describeIdpError(error: string, description: string | null): string {
  const code = /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,64}$/.test(error) ? error : 'invalid_error_code';
  return description ? `${code}: ${JSON.stringify(safeText(description, 200))}` : code;
}

export function redactSummary(value: unknown, key = '', depth = 0): unknown {
  if (typeof value === 'string') return SUBJECT_KEYS.has(key.toLowerCase()) ? maskSubject(value) : safeText(value);
  if (value === null || typeof value !== 'object') return typeof value === 'function' ? undefined : value;
  if (depth >= MAX_DEPTH) return '[nested]';
  if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map((v) => redactSummary(v, key, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .slice(0, MAX_ITEMS)
      .map(([k, v]) => [safeText(k, 100), redactSummary(v, k, depth + 1)]),
  );
}
