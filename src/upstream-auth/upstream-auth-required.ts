import { randomUUID } from 'node:crypto';
import { UrlElicitationRequiredError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';

export type AuthRequiredReason = 'not_connected' | 'needs_reconnection' | 'refresh_unavailable' | 'idp_sign_in_required' | 'idp_refused' | 'upstream_refused';

const MESSAGES: Record<AuthRequiredReason, (name: string, url: string, detail: string) => string> = {
  not_connected: (name, url) => `You have not connected your ${name} account yet. Open ${url} to connect it (once), then call the tool again.`,
  needs_reconnection: (name, url) => `Your ${name} connection has expired or was revoked at ${name}. Open ${url} to connect it again, then call the tool again.`,
  refresh_unavailable: (name) => `Your ${name} connection could not be renewed right now (its sign-in service did not answer). Try again in a minute.`,
  // ID-JAG upstreams (decision 0027): the gateway signs in for the user with their company sign-in, which is gone.
  idp_sign_in_required: (name, url) => `To use ${name}, sign in again with your company account: open ${url}, then call the tool again.`,
  idp_refused: (name, _url, detail) => `Your company's identity provider refused access to ${name} for you (${detail}). Ask your IT administrator to allow it.`,
  upstream_refused: (name, _url, detail) => `${name} refused the sign-in issued by your company's identity provider (${detail}). Ask your IT administrator.`,
};

/** Reasons after which the user can act by opening the URL; the others are transient or for an administrator. */
const USER_ACTS: ReadonlySet<AuthRequiredReason> = new Set(['not_connected', 'needs_reconnection', 'idp_sign_in_required']);

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
    /** Why an IdP or upstream refused (an OAuth error code and its description, bounded): named to the user. */
    readonly detail = '',
  ) {
    super(MESSAGES[reason](upstreamName, connectUrl, detail));
  }

  /** The user must open the link (as opposed to a transient failure that a retry fixes). */
  get needsUser(): boolean {
    return USER_ACTS.has(this.reason);
  }

  toolResult(): CallToolResult {
    return {
      isError: true,
      content: [{ type: 'text', text: this.message }],
      // Machine-readable twin for clients and UIs that want to render a button rather than parse the text.
      structuredContent: {
        error: this.reason,
        upstream: this.upstreamName,
        ...(this.needsUser && { [this.reason === 'idp_sign_in_required' ? 'signInUrl' : 'connectUrl']: this.connectUrl }),
        ...(this.detail && { reason: this.detail }),
      },
    };
  }

  /**
   * The MCP 2025-11-25 URL-mode elicitation form of this error (JSON-RPC error -32042, "URLElicitationRequiredError"),
   * for a client that declared `elicitation.url`: it opens our connect page for the user and may retry the call.
   * Only when the user must act (a transient refresh failure stays a tool result). The caller decides from the
   * client's declared capabilities; clients without them get {@link toolResult}.
   */
  toUrlElicitation(): UrlElicitationRequiredError | null {
    if (!this.needsUser) return null;
    return new UrlElicitationRequiredError([{ mode: 'url', message: this.message, elicitationId: randomUUID(), url: this.connectUrl }], this.message);
  }
}
