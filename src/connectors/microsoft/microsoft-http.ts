import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import type { Egress } from '../../http/egress.js';

type Fetch = Egress['fetch'];

/** Token and metadata requests to Entra never wait longer than this (msal's default client has no overall bound). */
const ENTRA_TIMEOUT_MS = 15_000;

const headerRecord = (h: Headers): Record<string, string> => {
  const out: Record<string, string> = {};
  h.forEach((v, k) => (out[k.toLowerCase()] = v));
  return out;
};

async function send<T>(fetch: Fetch, method: 'GET' | 'POST', url: string, options: NetworkRequestOptions | undefined, timeoutMs: number): Promise<NetworkResponse<T>> {
  const res = await fetch(url, {
    method,
    headers: options?.headers ?? {},
    ...(method === 'POST' && { body: options?.body ?? '' }),
    redirect: 'error',
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    // msal reads `error` fields from the body: a non-JSON answer (a proxy's HTML page) becomes a server error.
    body = { error: 'invalid_response', error_description: `HTTP ${res.status} with a non-JSON body` };
  }
  return { status: res.status, headers: headerRecord(res.headers), body: body as T };
}

/**
 * msal-node's `system.networkClient`: every request msal makes (authority metadata, token endpoint) goes through
 * `fetch` — the egress policy's (Egress.fetch, docs/decisions/0059), since a connector's authority host may be the
 * tenant admin's choice (`--authority-host`) — with the same TLS trust as our other outbound calls (system CAs,
 * NODE_EXTRA_CA_CERTS) and a timeout, and follows no redirects (a token endpoint that redirects is misconfigured or
 * hostile).
 */
export const entraNetworkClient = (fetch: Fetch): INetworkModule => ({
  sendGetRequestAsync: (url, options, timeout) => send(fetch, 'GET', url, options, timeout && timeout > 0 ? Math.min(timeout, ENTRA_TIMEOUT_MS) : ENTRA_TIMEOUT_MS),
  sendPostRequestAsync: (url, options) => send(fetch, 'POST', url, options, ENTRA_TIMEOUT_MS),
});

/** GETs a JSON document from Entra (authority metadata) through the same client. */
export async function getEntraJson(url: string, fetch: Fetch): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await send<Record<string, unknown>>(fetch, 'GET', url, undefined, ENTRA_TIMEOUT_MS);
  return { status: res.status, body: res.body };
}
