import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { toolError, type ConnectorToolCall } from '../connector-tool.js';
import { ENTRA_TOKEN_OWNER } from './entra-token-store.js';
import { microsoftConfig } from './microsoft-config.js';
import { MicrosoftToolFailure } from './microsoft-failure.js';
import { MICROSOFT_TOOL_SCOPES, type MicrosoftToolName } from './microsoft-scopes.js';
import type { RemedyLinks } from './microsoft-tokens.js';
import { GraphSession } from './graph-session.js';

export type MicrosoftHandler = (g: GraphSession, args: Record<string, unknown>) => Promise<CallToolResult>;

/**
 * Links a tool error offers: sign in again through the tenant's SSO (the connection the stored token came from, so
 * Entra issues a new one), and Entra's admin-consent page for the user's tenant and our app registration.
 */
async function remedyLinks(call: ConnectorToolCall): Promise<RemedyLinks> {
  const config = microsoftConfig(call.connector);
  const base = `${call.s.config.publicUrl}/t/${encodeURIComponent(call.t.slug)}`;
  const row = await call.t.db.vaultSecret.findFirst({ where: { ownerKind: ENTRA_TOKEN_OWNER, userId: call.userId }, orderBy: { updatedAt: 'desc' }, select: { ownerId: true } });
  const conn = row?.ownerId ?? (await call.t.db.idpConnection.findFirst({ where: { kind: 'oidc', enabled: true, config: { path: ['oidc', 'clientId'], equals: config.clientId } }, select: { id: true } }))?.id;
  return {
    signIn: conn ? `${base}/oidc/login?connection=${encodeURIComponent(conn)}` : `${base}/login`,
    adminConsent: (tid) => `${config.authorityHost}/${encodeURIComponent(tid)}/adminconsent?client_id=${encodeURIComponent(config.clientId)}`,
  };
}

/**
 * Wraps a Microsoft tool: Graph as the calling user only (their own stored Entra sign-in, never anyone else's), every
 * failure a tool error saying what to do, and the call audited with the Graph endpoints it used and the outcome —
 * never arguments, message bodies or file contents.
 */
export function microsoftTool(tool: MicrosoftToolName, handler: MicrosoftHandler) {
  return async (call: ConnectorToolCall, args: Record<string, unknown>): Promise<CallToolResult> => {
    let session: GraphSession | null = null;
    let failure: string | null = null;
    let result: CallToolResult;
    try {
      session = new GraphSession(call, MICROSOFT_TOOL_SCOPES[tool], await remedyLinks(call));
      result = await handler(session, args);
    } catch (err) {
      if (err instanceof MicrosoftToolFailure) {
        failure = err.failure;
        result = toolError(err.message);
      } else {
        call.s.logger.warn({ tenantId: call.t.id, tool, err: String(err).slice(0, 300) }, 'microsoft tool failed');
        failure = 'internal';
        result = toolError(call.signal.aborted ? 'The call was cancelled.' : 'The Microsoft 365 tool failed unexpectedly. Try again later.');
      }
    }
    await call.s.audit.recordInBackground(call.t, {
      actor: { kind: 'user', id: call.userId },
      action: 'connector.microsoft.call',
      target: { kind: 'connector', id: call.connector.id },
      outcome: failure ? 'failure' : 'success',
      detail: { tool, clientId: call.clientId, endpoints: session?.endpoints ?? [], ...(failure && { error: failure }) },
    });
    return result;
  };
}
