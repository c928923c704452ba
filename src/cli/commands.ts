import { foundationCommands, type Command } from './command-table.js';
import { toolCommands } from '../tools/tool-commands.js';
import { ssoCommands } from '../sso/sso-commands.js';
import { oauthCommands } from '../oauth/oauth-commands.js';
import { auditCommands } from '../audit/audit-commands.js';
import { connectorCommands } from '../connectors/connector-commands.js';
import { reconcileCommands } from '../connectors/reconcile/reconcile-commands.js';
import { upstreamConnectionCommands } from '../upstream-auth/connection-commands.js';
import { manifestCommands } from '../catalog/manifest-commands.js';
import { onboardingCommands } from '../onboarding/onboarding-commands.js';
import { operatorCommands } from '../operator/operator-commands.js';

/** The CLI's command table: the foundation's commands, then each capability's. */
export const commands: Command[] = [
  ...foundationCommands, ...toolCommands, ...ssoCommands, ...oauthCommands, ...auditCommands, ...connectorCommands, ...reconcileCommands,
  ...upstreamConnectionCommands, ...manifestCommands, ...onboardingCommands, ...operatorCommands,
];

export function findCommand(words: string[]): { command: Command; rest: string[] } | null {
  let best: { command: Command; rest: string[] } | null = null;
  for (const command of commands) {
    const parts = command.name.split(' ');
    if (parts.every((p, i) => words[i] === p) && (!best || parts.length > best.command.name.split(' ').length)) {
      best = { command, rest: words.slice(parts.length) };
    }
  }
  return best;
}
