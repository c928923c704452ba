// A child process that answers commands over Node's IPC channel, one answer per command: the benchmarks' load
// generators run in processes of their own (bench/mcp/population-driver.ts, bench/mcp/cold-client.ts), so the parent's
// heap — the services it seeds with — and its garbage collections never sit in a timed request's path.
import { spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

/**
 * Starts `script` (a path under the repository) with tsx, `nodeArgs` before it; `call` resolves with the child's
 * answer to one command.
 */
export function startIpcChild(script: string, nodeArgs: readonly string[] = []) {
  // Structured clone, not JSON: an open-loop result marks unanswered requests with NaN, which JSON would turn into null.
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], { cwd: root, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  const waiting = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  let seq = 0;
  const ready = new Promise((resolve, reject) => waiting.set(0, { resolve, reject }));
  child.on('message', (m: { seq: number; answer?: unknown; error?: string }) => {
    const w = waiting.get(m.seq);
    waiting.delete(m.seq);
    if (m.error !== undefined) w?.reject(new Error(`${script}: ${m.error}`));
    else w?.resolve(m.answer);
  });
  child.once('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`${script} exited with ${code}`));
  });
  const call = (command: object) =>
    new Promise<unknown>((resolve, reject) => {
      waiting.set(++seq, { resolve, reject });
      child.send({ ...command, seq });
    });
  return { child, ready, call };
}

/** The child's side: answers each command with `handle`'s result (or its error), then says it is ready. */
export function serveIpc<C>(handle: (command: C) => Promise<unknown>): void {
  process.on('message', (m: C & { seq: number }) => {
    handle(m).then(
      (answer) => process.send!({ seq: m.seq, answer }),
      (err: unknown) => process.send!({ seq: m.seq, error: String((err as Error)?.stack ?? err) }),
    );
  });
  process.send!({ seq: 0, answer: 'ready' });
}
