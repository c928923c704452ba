import type { UpstreamOAuthClient } from './upstream-oauth-client.js';
import type { Egress } from '../http/egress.js';
import { asFetch } from './as-fetch.js';

/**
 * RFC 7009 token revocation at the upstream's authorization server, when its metadata offers a
 * `revocation_endpoint` (RFC 8414 §2). The refresh token first: revoking it ends the grant and, per RFC 7009 §2.1,
 * SHOULD end its access tokens too. Best effort: the connection is already gone on our side, so a failure is only
 * reported (false), never retried against the user.
 */
export async function revokeAtUpstream(egress: Egress, client: UpstreamOAuthClient, tokens: { access_token?: string; refresh_token?: string }): Promise<boolean> {
  const endpoint = (client.metadata as { revocation_endpoint?: string }).revocation_endpoint;
  if (!endpoint) return false;
  let ok = true;
  for (const [token, hint] of [[tokens.refresh_token, 'refresh_token'], [tokens.access_token, 'access_token']] as const) {
    if (!token) continue;
    const body = new URLSearchParams({ token, token_type_hint: hint });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    const { client_id: id, client_secret: secret } = client.clientInformation;
    // RFC 7009 §2.1: the client authenticates as at the token endpoint (Basic for confidential clients, RFC 6749 §2.3.1).
    if (secret) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    else body.set('client_id', id);
    try {
      const res = await asFetch(egress)(endpoint, { method: 'POST', headers, body });
      await res.body?.cancel();
      // 200 also for tokens already invalid (RFC 7009 §2.2).
      ok &&= res.ok;
    } catch {
      ok = false;
    }
  }
  return ok;
}
