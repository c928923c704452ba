#!/usr/bin/env node
import { text } from 'node:stream/consumers';
import { forwardToServer } from '../admin/admin-endpoint.js';
import { loadConfig, type Config } from '../config/config.js';
import { lockHolder } from '../db/pglite-lock.js';
import { createLogger } from '../lib/logger.js';
import { createServices } from '../services.js';
import pino from 'pino';
import type { Command, Options } from './command-table.js';
import { commands, findCommand } from './commands.js';
import { describeError } from './describe-error.js';
import { Lines } from './line-output.js';
import { commandUsage, parseCommandArgs, usage, UsageError } from './parse-args.js';

export interface CliIo {
  stdout(line: string): void;
  stderr(line: string): void;
  stdin(): Promise<string>;
  env: NodeJS.ProcessEnv;
}

/**
 * Runs one CLI command: exactly one JSON object on stdout and exit code 0, or a clear message on stderr and a
 * non-zero code (2 for usage mistakes). Works whether or not the server runs: with PostgreSQL the CLI opens the
 * database itself; in embedded mode it forwards to the running server when one holds the data directory.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const words = argv.slice(0, argv.findIndex((a) => a.startsWith('-')) >>> 0);
  if (words.length === 0 || words[0] === 'help') {
    const asked = words.length > 1 ? findCommand(words.slice(1)) : null;
    if (asked && asked.rest.length === 0) {
      io.stdout(commandUsage(asked.command));
      return 0;
    }
    io.stdout(usage(commands));
    return words.length === 0 ? 2 : 0;
  }
  if (words[0] === 'serve') {
    const { serve } = await import('../server.js');
    await serve();
    return -1; // keeps running
  }
  try {
    const found = findCommand(words);
    const takesPositional = found && Object.values(found.command.options).some((o) => o.positional);
    if (!found || found.rest.length > (takesPositional ? 1 : 0)) {
      throw new UsageError(`unknown command "${words.join(' ')}" (see: sso-bridge help)`);
    }
    const opts = await parseCommandArgs(found.command, argv.slice(found.command.name.split(' ').length), io.stdin);
    const config = loadConfig(io.env);
    if (found.command.local) {
      io.stdout(JSON.stringify(await found.command.local(config, opts)));
      return 0;
    }
    await execute(config, found.command, opts, async (result) => {
      if (!(result instanceof Lines)) return io.stdout(JSON.stringify(result));
      for await (const line of result.lines) io.stdout(line);
    });
    return 0;
  } catch (err) {
    io.stderr(`error: ${describeError(err).message}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

/** Runs the command here or on the server holding the embedded database, and prints its result while it is usable. */
async function execute(config: Config, command: Command, opts: Options, print: (result: unknown) => Promise<void>): Promise<void> {
  if (!config.databaseUrl && command.forwardable && lockHolder(config.dataDir) !== undefined) {
    return print(await forwardToServer(config.dataDir, command.name, opts));
  }
  // stdout is reserved for the one JSON result: logs go to stderr, warnings and up only.
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, pino.destination(2));
  const s = await createServices(config, { logger });
  try {
    await s.database.migrate();
    // Printed before the database closes: streamed lines are read from it as they are printed.
    await print(await command.run(s, opts));
  } finally {
    await s.audit.flush();
    await s.database.close();
  }
}

const isMain = process.argv[1] && /cli[/\\]main\.(js|ts)$|sso-bridge$/.test(process.argv[1]);
if (isMain) {
  const code = await runCli(process.argv.slice(2), {
    stdout: (l) => process.stdout.write(`${l}\n`),
    stderr: (l) => process.stderr.write(`${l}\n`),
    stdin: () => text(process.stdin),
    env: process.env,
  });
  if (code >= 0) process.exitCode = code;
}
