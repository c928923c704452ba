import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

export type AuthRequiredReason = 'not_connected' | 'needs_reconnection' | 'refresh_unavailable';

const MESSAGES: Record<AuthRequiredReason, (name: string, url: string) => string> = {
  not_connected: (name, url) => `You have not connected your ${name} account yet. Open ${url} to connect it (once), then call the tool again.`,
  needs_reconnection: (name, url) => `Your ${name} connection has expired or was revoked at ${name}. Open ${url} to connect it again, then call the tool again.`,
  refresh_unavailable: (name) => `Your ${name} connection could not be renewed right now (its sign-in service did not answer). Try again in a minute.`,
};

/**
 * A per-user upstream call that cannot go out with the caller's own credentials. Becomes a tool error result whose
 * text carries the connect link (MCP 2025-11-25 "Tools": errors the model and the user can act on are results, not
 * protocol errors); nothing about the tokens themselves is ever in it.
 */
export class UpstreamAuthRequired extends Error {
  override name = 'UpstreamAuthRequired';
  constructor(
    readonly reason: AuthRequiredReason,
    readonly upstreamName: string,
    readonly connectUrl: string,
  ) {
    super(MESSAGES[reason](upstreamName, connectUrl));
  }

  /** The user must open the link (as opposed to a transient failure that a retry fixes). */
  get needsUser(): boolean {
    return this.reason !== 'refresh_unavailable';
  }

  toolResult(): CallToolResult {
    return {
      isError: true,
      content: [{ type: 'text', text: this.message }],
      // Machine-readable twin for clients and UIs that want to render a button rather than parse the text.
      structuredContent: { error: this.reason, upstream: this.upstreamName, ...(this.needsUser && { connectUrl: this.connectUrl }) },
    };
  }
}
