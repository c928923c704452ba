import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Egress } from '../http/egress.js';

/** Time one request to an upstream's authorization server (metadata, token, registration, revocation) may take. */
export const AS_TIMEOUT_MS = 10_000;

/**
 * fetch for everything the gateway asks an upstream's authorization server: bounded in time, redirects refused
 * (a token endpoint that redirects would make us repeat credentials elsewhere; RFC 6749 §3.2 endpoints are fixed),
 * and connections only where the egress policy admits them (an upstream names its authorization server itself, so
 * its metadata could point the gateway at internal addresses: egress.ts).
 */
export function asFetch(egress: Egress): FetchLike {
  return (url, init) => {
    const timeout = AbortSignal.timeout(AS_TIMEOUT_MS);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    return egress.fetch(url, { ...init, redirect: 'error', signal });
  };
}
