import pino, { type Logger } from 'pino';
import { stdoutLogDestination } from './log-destination.js';

/** Paths pino replaces by "[redacted]": credentials must never reach a log line. */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-admin-secret"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.secret',
  '*.clientSecret',
  '*.client_secret',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.privateKey',
  '*.masterKey',
  '*.SAMLResponse',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'sso-bridge' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      timestamp: isoTime,
    },
    // Default: stdout, written in batches (log-destination.ts) rather than one syscall per line.
    destination ?? stdoutLogDestination(),
  );
}

/**
 * Exactly pino.stdTimeFunctions.isoTime's `,"time":"2026-12-06T09:03:12.345Z"`, with the date formatted once per
 * second instead of on every line: the server writes a line per request, and formatting the date was a visible share of
 * the MCP endpoint's CPU per tools/call (docs/benchmarks.md, issue 17 §1).
 */
export function isoTime(now = Date.now()): string {
  return `,"time":"${isoTimestamp(now)}"`;
}

/**
 * Exactly `new Date(now).toISOString()` for a whole number of milliseconds, with the date formatted once per second
 * (shared with isoTime): every audit event's `createdAt` is this text (audit-log.ts), one per MCP tools/call.
 */
export function isoTimestamp(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoHead = new Date(second * 1000).toISOString().slice(0, -4); // up to and including the '.' before the milliseconds
  }
  const ms = now - second * 1000;
  return `${isoHead}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
}
let isoSecond = NaN;
let isoHead = '';

/** Query parameters that carry credentials or single-use secrets (OAuth codes, SAML messages, tokens). */
const secretParams = /^(code|state|token|access_token|refresh_token|id_token|client_secret|assertion|samlresponse|samlrequest|relaystate|user_code|code_verifier|session_state|login_hint)$/i;

/** A URL path with the values of secret-bearing query parameters replaced, for logs. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const key of [...params.keys()]) if (secretParams.test(key)) params.set(key, '[redacted]');
  return `${url.slice(0, q)}?${params.toString()}`;
}
