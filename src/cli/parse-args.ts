import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Command, Options } from './command-table.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

type ParseOptions = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/**
 * Parses a command's flags strictly (unknown flags are errors) and resolves secrets given as `--x-file PATH`
 * (`-` reads standard input), so secrets need not appear on the command line.
 */
export async function parseCommandArgs(
  command: Command,
  argv: string[],
  readStdin: () => Promise<string>,
): Promise<Options> {
  const spec: ParseOptions = {};
  for (const [name, o] of Object.entries(command.options)) {
    spec[name] = { type: o.type, ...(o.multiple && { multiple: true }) };
    if (o.secret) spec[`${name}-file`] = { type: 'string' };
  }
  const positionalName = Object.entries(command.options).find(([, o]) => o.positional)?.[0];
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: spec, strict: true, allowPositionals: !!positionalName }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]} (see: sso-bridge help ${command.name})`);
  }
  if (positionals.length > 1) throw new UsageError(`unexpected arguments: ${positionals.slice(1).join(' ')}`);
  if (positionalName && positionals[0] !== undefined) {
    if (values[positionalName] !== undefined) throw new UsageError(`give ${positionalName} once`);
    values[positionalName] = positionals[0];
  }
  const out: Options = {};
  for (const [name, o] of Object.entries(command.options)) {
    let v = values[name] as Options[string];
    const file = values[`${name}-file`];
    if (o.secret && typeof file === 'string') {
      if (v !== undefined) throw new UsageError(`give --${name} or --${name}-file, not both`);
      v = (file === '-' ? await readStdin() : await readFile(file, 'utf8')).replace(/\r?\n$/, '');
    }
    if (o.required && (v === undefined || v === '')) {
      throw new UsageError(`missing --${name}${o.secret ? ` (or --${name}-file)` : ''}: ${o.description}`);
    }
    out[name] = v;
  }
  return out;
}

/** `--name VALUE` as help shows it: the accepted values when they are few (`on|off`), else the upper-cased name. */
function flagOf(name: string, o: Command['options'][string]): string {
  if (o.positional) return name.toUpperCase();
  if (o.type === 'boolean') return `--${name}`;
  return `--${name} ${o.values ? o.values.join('|') : name.toUpperCase()}${o.multiple ? '…' : ''}`;
}

const synopsis = (c: Command) =>
  [c.name, ...Object.entries(c.options).map(([n, o]) => (o.required ? flagOf(n, o) : `[${flagOf(n, o)}]`))].join(' ');

export function usage(commands: Command[]): string {
  const lines = ['usage: sso-bridge <command> [options]   (npm run cli -- <command> …; help <command> describes its options)', '', 'commands:'];
  for (const c of commands) lines.push(`  ${synopsis(c)}`, `      ${c.summary}`);
  lines.push('  serve', '      start the HTTP server (same as npm start)');
  return lines.join('\n');
}

/** `help <command>`: its synopsis, summary and every option with its description. */
export function commandUsage(c: Command): string {
  const lines = [`usage: sso-bridge ${synopsis(c)}`, '', `  ${c.summary}`];
  const options = Object.entries(c.options);
  if (options.length) lines.push('', 'options:');
  for (const [n, o] of options) {
    const extras = [o.required && 'required', o.multiple && 'repeatable', o.secret && `or --${n}-file PATH, - for standard input`].filter(Boolean);
    lines.push(`  ${flagOf(n, o)}`, `      ${o.description}${extras.length ? ` (${extras.join('; ')})` : ''}`);
  }
  return lines.join('\n');
}
