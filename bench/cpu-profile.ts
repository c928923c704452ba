// What bench/profile-summary.ts and bench/token/profile-categories.ts share: a V8 CPU profile (`node --cpu-prof`) read
// from the command line with its time window, its call tree's parent links, and the package a frame belongs to.
import { readFileSync } from 'node:fs';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * `PROFILE [--from S] [--to S] …` from the command line: the profile, the window in µs since its start, the node and
 * parent of each id, and `opt(name)` for the script's other numeric options.
 */
export function profileFromArgs(usage: string) {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const file = args[0];
  if (!file) throw new Error(`usage: ${usage}`);
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  return { args, opt, p, from: (opt('--from') ?? 0) * 1e6, to: (opt('--to') ?? Infinity) * 1e6, byId, parent };
}

/** node_modules/<name> (scoped names kept), node's modules as is, the application's files as app:<path under dist/>. */
export function packageOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith('node:')) return url;
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return `app:${url.slice(dist + 6)}`;
  return url.replace(/^file:\/\//, '');
}
