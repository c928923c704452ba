// An opt-in probe of a benchmark process's own stalls (bench/mcp/upstream.ts with BENCH_UPSTREAM_PROBE=<ms>): the
// event loop's delay (perf_hooks.monitorEventLoopDelay) and the garbage collector's pauses (PerformanceObserver 'gc'),
// a stderr line for every second in which the loop was blocked longer than the threshold (with the CPU and GC time of
// that second), and a summary when the process is stopped (SIGTERM, as bench/support.ts `stop` does). Used to find
// what stalled the bench upstream.
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

const GC_KINDS: Record<number, string> = { 1: 'scavenge', 2: 'minor-ms', 4: 'mark-compact', 8: 'incremental', 16: 'weak-callbacks' };

export function startStallProbe(label: string, thresholdMs: number, state: () => string): void {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const whole = monitorEventLoopDelay({ resolution: 5 });
  whole.enable();
  const gc = { count: 0, totalMs: 0, maxMs: 0, maxKind: '', windowMs: 0, over: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = GC_KINDS[(e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other';
      gc.count++;
      gc.totalMs += e.duration;
      gc.windowMs += e.duration;
      if (e.duration > gc.maxMs) [gc.maxMs, gc.maxKind] = [e.duration, kind];
      if (e.duration > thresholdMs / 2) gc.over++;
    }
  }).observe({ entryTypes: ['gc'] });
  const started = performance.now();
  // CPU this process used in the second: a loop blocked for long with little CPU used waited for a core (the machine's
  // load), not for its own work.
  let cpu0 = process.cpuUsage();
  const mem = () => `heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MB, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`;
  setInterval(() => {
    const maxMs = loop.max / 1e6;
    const cpu = process.cpuUsage(cpu0);
    cpu0 = process.cpuUsage();
    if (maxMs > thresholdMs) {
      process.stderr.write(
        `${label} probe: +${((performance.now() - started) / 1000).toFixed(1)} s event loop blocked up to ${maxMs.toFixed(0)} ms; this second: CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, GC ${gc.windowMs.toFixed(0)} ms; ${mem()}; ${state()}\n`,
      );
    }
    gc.windowMs = 0;
    loop.reset();
  }, 1000).unref();
  process.once('SIGTERM', () => {
    const ms = (ns: number) => `${(ns / 1e6).toFixed(1)} ms`;
    process.stderr.write(
      `${label} probe summary: ${((performance.now() - started) / 1000).toFixed(0)} s; event-loop delay p99 ${ms(whole.percentile(99))}, max ${ms(whole.max)}; ` +
        `GC ${gc.count} pauses, ${(gc.totalMs / 1000).toFixed(1)} s in all, longest ${gc.maxMs.toFixed(0)} ms (${gc.maxKind}), ${gc.over} over ${thresholdMs / 2} ms; ${mem()}; ${state()}\n`,
    );
    process.exit(0);
  });
}
