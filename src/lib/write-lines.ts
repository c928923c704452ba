import type { Writable } from 'node:stream';

/**
 * Writes lines to a response as they are produced, waiting whenever the socket's buffer is full, so that streaming
 * millions of rows holds one page in memory. Stops (returns false) when the client goes away.
 */
export async function writeLines(out: Writable, lines: AsyncIterable<string>): Promise<boolean> {
  for await (const line of lines) {
    if (out.destroyed) return false;
    if (!out.write(`${line}\n`)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          out.off('drain', done).off('close', done);
          resolve();
        };
        out.on('drain', done).on('close', done);
      });
    }
  }
  if (out.destroyed) return false;
  out.end();
  return true;
}
