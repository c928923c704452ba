// The parent's side of bench/mcp/population-driver.ts: its commands, typed.
import { startIpcChild } from '../ipc.js';
import type { ClosedReport, DriverCommand, OpenReport } from './population-driver.js';

type Command<Op extends DriverCommand['op']> = Omit<Extract<DriverCommand, { op: Op }>, 'op'>;

export function startDriver() {
  const { child, ready, call } = startIpcChild('bench/mcp/population-driver.ts');
  return {
    child,
    ready,
    setup: (c: Command<'setup'>) => call({ op: 'setup', ...c }),
    closed: (c: Command<'closed'>) => call({ op: 'closed', ...c }) as Promise<ClosedReport>,
    open: (c: Command<'open'>) => call({ op: 'open', ...c }) as Promise<OpenReport>,
  };
}
