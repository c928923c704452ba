/**
 * Incremental parser for a `text/event-stream` body, per the WHATWG HTML Standard, "Server-sent events" §9.2.6
 * ("Interpreting an event stream"): lines end with CRLF, LF or CR (a CRLF split across two chunks is one line end);
 * `data:` lines of one event are joined with "\n"; a blank line dispatches the event; lines starting with ":" are
 * comments; one space after the colon is dropped; `id` sets the last event ID (unless it contains NUL) and persists
 * across events; `retry` is honoured only when it is all ASCII digits; an event without data is not dispatched; an
 * unterminated event at the end of the stream is discarded. Takes decoded text (the caller decodes UTF-8 across
 * chunk boundaries); a leading BOM is skipped.
 */
export class SseParser {
  /** The last event ID seen so far (for `Last-Event-ID` when resuming). */
  lastEventId = '';
  /** The reconnection time the stream asked for, in ms. */
  retryMs: number | undefined;

  #rest = '';
  #skipLf = false;
  #started = false;
  #type = '';
  #data = '';
  #hasData = false;
  #idBuffer = '';

  /** `lastEventId`: where a resumed stream starts (the ID persists across reconnections, §9.2.4). */
  constructor(
    private readonly onEvent: (type: string, data: string) => void,
    lastEventId = '',
  ) {
    this.lastEventId = lastEventId;
    this.#idBuffer = lastEventId;
  }

  push(chunk: string): void {
    if (!this.#started && chunk.length > 0) {
      this.#started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    // A line longer than one chunk is only concatenated (V8 ropes) until its end arrives: no rescans.
    if (chunk.indexOf('\n') === -1 && chunk.indexOf('\r') === -1) {
      if (chunk.length > 0) this.#skipLf = false;
      this.#rest += chunk;
      return;
    }
    const text = this.#rest + chunk;
    let start = this.#skipLf && text.charCodeAt(0) === 10 ? 1 : 0;
    this.#skipLf = false;
    let cr = text.indexOf('\r', start);
    let lf = text.indexOf('\n', start);
    while (cr !== -1 || lf !== -1) {
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      this.#line(text.slice(start, end));
      if (end === cr) {
        if (end + 1 === text.length) {
          this.#skipLf = true; // the LF of this CRLF may be the next chunk's first character
          start = end + 1;
          break;
        }
        start = text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
      } else start = end + 1;
      if (cr !== -1 && cr < start) cr = text.indexOf('\r', start);
      if (lf !== -1 && lf < start) lf = text.indexOf('\n', start);
    }
    this.#rest = text.slice(start);
  }

  #line(line: string): void {
    if (line === '') return this.#dispatch();
    if (line.charCodeAt(0) === 58) return; // ":" comment
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') {
      this.#data = this.#hasData ? `${this.#data}\n${value}` : value;
      this.#hasData = true;
    } else if (field === 'event') this.#type = value;
    else if (field === 'id') {
      if (!value.includes('\0')) this.#idBuffer = value;
    } else if (field === 'retry' && /^[0-9]+$/.test(value)) this.retryMs = Number(value);
  }

  #dispatch(): void {
    this.lastEventId = this.#idBuffer;
    const type = this.#type || 'message';
    const data = this.#data;
    const hasData = this.#hasData;
    this.#type = '';
    this.#data = '';
    this.#hasData = false;
    if (hasData) this.onEvent(type, data);
  }
}
