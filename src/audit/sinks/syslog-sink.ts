import net, { type LookupFunction } from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { EGRESS_REFUSED_MESSAGE, isEgressRefusal, type Egress } from '../../http/egress.js';
import type { ExportedEvent } from '../export-events.js';

/** Default port of syslog over TLS (RFC 5425 §4.1). */
export const SYSLOG_TLS_PORT = 6514;
/** CEF "Device Version": the version of these records' layout (bumped if a field changes meaning). */
const RECORD_VERSION = '1';
/** Facility 13 "log audit" (RFC 5424 §6.2.1, table 1). */
const FACILITY_LOG_AUDIT = 13;

/** CEF header field: `\` and `|` escaped (ArcSight CEF format, "Character encoding"), no line breaks. */
const cefHeader = (v: string) => v.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
/** CEF extension value: `\` and `=` escaped, line breaks as `\n` / `\r`, so one event stays one record. */
const cefValue = (v: string) => v.replace(/[\\=]/g, (c) => `\\${c}`).replace(/\r/g, '\\r').replace(/\n/g, '\\n');

/**
 * One audit event as a CEF:0 record. Signature id and name are the action; severity 5 for failures and denials, 3
 * otherwise. `cn1` (seq) and `cs3` (the chain hash) let the SIEM's copy be matched to `audit verify` and deduplicated
 * (delivery is at least once).
 */
export function cefRecord(tenant: string, e: ExportedEvent): string {
  const ext: [string, string | number | null][] = [
    ['rt', Date.parse(e.createdAt)],
    ['externalId', e.id],
    ['act', e.action],
    ['outcome', e.outcome],
    ['cs1Label', 'tenant'], ['cs1', tenant],
    ['cs2Label', 'actorKind'], ['cs2', e.actorKind],
    ['suser', e.actorId],
    ['cs4Label', 'targetKind'], ['cs4', e.targetKind],
    ['duser', e.targetId],
    ['src', e.ip],
    ['requestClientApplication', e.userAgent],
    ['cs5Label', 'requestId'], ['cs5', e.requestId],
    ['cn1Label', 'seq'], ['cn1', e.seq],
    ['cs3Label', 'hash'], ['cs3', e.hash],
    ['cs6Label', 'detail'], ['cs6', e.detail === null || e.detail === undefined ? null : JSON.stringify(e.detail)],
  ];
  const severity = e.outcome === 'success' ? 3 : 5;
  const header = ['CEF:0', 'SSO Bridge', 'sso-bridge', RECORD_VERSION, e.action, e.action, String(severity)].map((h, i) => (i === 0 ? h : cefHeader(h)));
  const extension = ext.filter(([, v]) => v !== null && v !== '').map(([k, v]) => `${k}=${cefValue(String(v))}`).join(' ');
  return `${header.join('|')}|${extension}`;
}

/**
 * An RFC 5424 message carrying the CEF record, framed by octet counting (RFC 6587 §3.4.1, required by RFC 5425 §4.3):
 * `<length> <message>`, so line breaks inside a value could never split a record even if a receiver did not escape.
 */
export function syslogFrame(tenant: string, e: ExportedEvent, hostname = os.hostname()): Buffer {
  const severity = e.outcome === 'success' ? 5 /* notice */ : 4; /* warning */
  const host = hostname.replace(/[^\x21-\x7e]/g, '').slice(0, 255) || '-';
  const message = `<${FACILITY_LOG_AUDIT * 8 + severity}>1 ${e.createdAt} ${host} sso-bridge - audit - ${cefRecord(tenant, e)}`;
  const bytes = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${bytes.length} `), bytes]);
}

/**
 * Sends the frames over one TCP (or TLS) connection and resolves when the receiver has closed its side after ours —
 * that is, it read everything to the end — or with a short failure message (never the data). Syslog has no
 * application acknowledgement; a clean close after our FIN is the strongest one TCP gives, and the batch is sent
 * again on anything less (at least once). The sink's host is a tenant admin's choice: the socket connects only where
 * the egress policy admits (docs/decisions/0059), checked on the address it connects to.
 */
export function sendSyslog(egress: Pick<Egress, 'socketLookup'>, url: string, frames: Buffer[], timeoutMs: number): Promise<string | undefined> {
  const u = new URL(url);
  const secure = u.protocol === 'syslog+tls:';
  const port = Number(u.port || SYSLOG_TLS_PORT);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  let lookup: LookupFunction;
  try {
    lookup = egress.socketLookup(host);
  } catch {
    return Promise.resolve(EGRESS_REFUSED_MESSAGE);
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(error);
    };
    const socket: net.Socket = secure
      ? tls.connect({ host, port, lookup, servername: net.isIP(host) ? undefined : host }, write)
      : net.connect({ host, port, lookup }, write);
    const timer = setTimeout(() => done(`timed out after ${timeoutMs} ms`), timeoutMs);
    function write() {
      socket.end(Buffer.concat(frames));
    }
    socket.on('data', () => undefined); // receivers do not answer; anything they send is ignored
    socket.on('error', (err: NodeJS.ErrnoException) => done(isEgressRefusal(err) ? EGRESS_REFUSED_MESSAGE : `${err.code ?? err.name}: ${err.message}`.slice(0, 300)));
    // The receiver's FIN after ours: it read to the end. A receiver that closes with unread data resets the
    // connection instead (an 'error' above).
    socket.on('end', () => done(socket.writableFinished ? undefined : 'connection closed before every event was sent'));
    socket.on('close', () => done('connection closed before every event was sent'));
  });
}
