/**
 * A command result printed as lines of text rather than one JSON object (`audit export`: the one exception to the
 * CLI's one-object rule). The lines are produced while they are printed, so a command can stream millions of rows in
 * constant memory — through the admin endpoint too, which sends them as a chunked body.
 */
export class Lines {
  constructor(readonly lines: AsyncIterable<string>) {}
}

/** Response header by which the admin endpoint tells the CLI that the body is lines, not a JSON envelope. */
export const LINES_HEADER = 'x-sso-bridge-lines';
