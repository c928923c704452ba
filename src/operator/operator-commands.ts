import type { Command } from '../cli/command-table.js';
import type { Services } from '../services.js';
import { createOperatorToken, listOperatorTokens, revokeOperatorToken } from './operator-tokens.js';

const record = (s: Services, action: string, id: string, name: string) =>
  s.audit.record(null, { actor: { kind: 'admin-cli' }, action, target: { kind: 'operator-token', id }, outcome: 'success', detail: { name } });

/** Credentials for the operator view at PUBLIC_URL/operator (docs/operations.md, decision 0033). */
export const operatorCommands: Command[] = [
  {
    name: 'operator token create',
    summary: 'create a token for the operator view at PUBLIC_URL/operator (shown once; only its hash is stored)',
    options: { name: { type: 'string', description: 'who or what holds it, e.g. "alice" (default: operator-<date>)' } },
    forwardable: true,
    run: async (s, o) => {
      const name = typeof o.name === 'string' ? o.name : `operator-${s.clock.now().toISOString().slice(0, 19).replace(/[T:]/g, '-')}`;
      const created = await createOperatorToken(s.db, name);
      await record(s, 'operator-token.create', created.id, created.name);
      return { ...created, signInUrl: `${s.config.publicUrl}/operator` };
    },
  },
  {
    name: 'operator token list',
    summary: 'list operator tokens (never the tokens themselves)',
    options: {},
    forwardable: true,
    run: async (s) => ({ tokens: await listOperatorTokens(s.db) }),
  },
  {
    name: 'operator token revoke',
    summary: 'revoke an operator token; its signed-in sessions end at once',
    options: { id: { type: 'string', required: true, positional: true, description: 'token id (opt_…) or name' } },
    forwardable: true,
    run: async (s, o) => {
      const row = await revokeOperatorToken(s.db, String(o.id ?? ''), s.clock.now());
      await record(s, 'operator-token.revoke', row.id, row.name);
      return row;
    },
  },
];
