import type { Services } from '../../../src/services.js';
import { ssoCommands } from '../../../src/sso/sso-commands.js';
import type { Options } from '../../../src/cli/command-table.js';

/** Runs an SSO CLI command in-process against the test app's services (same code path as `npm run cli`). */
export async function cli(s: Services, name: string, opts: Options): Promise<Record<string, unknown>> {
  const command = ssoCommands.find((c) => c.name === name);
  if (!command) throw new Error(`no command ${name}`);
  return (await command.run(s, opts)) as Record<string, unknown>;
}
