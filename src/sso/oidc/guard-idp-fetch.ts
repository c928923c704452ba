import type { Services } from '../../services.js';

/** A `fetch` for libraries that take one (jose's and openid-client's `customFetch`). */
export type GuardedFetch = (url: string, init: RequestInit) => Promise<Response>;

/** A 5xx answer: the IdP is up but failing, which counts against its circuit like a refused connection. */
class IdpServerError extends Error {
  constructor(readonly response: Response) {
    super(`HTTP ${response.status}`);
  }
}

/**
 * How long the last good JWKS of an IdP may stand in for it while its endpoint is down or its circuit open. Bounded so
 * a key the IdP withdrew is not trusted indefinitely because the IdP also went dark.
 */
export const STALE_JWKS_MAX_MS = 60 * 60_000;
const lastGoodJwks = new Map<string, { body: string; at: number }>();

/**
 * `fetch` through the IdP's circuit (`Services.idpFetches`, decision 0016): transport errors, timeouts and 5xx answers
 * count as failures; after 5 of them calls fail at once with a `CircuitOpenError` until a half-open probe succeeds.
 * Other answers (a 400 `invalid_grant` from the token endpoint) pass through untouched for the library to judge.
 * With `staleJwks`, the last good JWK Set (≤ STALE_JWKS_MAX_MS old) answers instead of a failure, so tokens signed
 * with keys we already know keep verifying while the IdP's JWKS endpoint is down (RFC 5861 §4 stale-if-error).
 */
export function guardIdpFetch(s: Services, key: string, opts: { staleJwks?: boolean } = {}): GuardedFetch {
  return async (url, init) => {
    const remembered = `${key} ${url}`;
    try {
      const res = await s.idpFetches.run(key, async () => {
        // Where the egress policy admits: an issuer is a tenant admin's choice (src/http/egress.ts).
        const r = await s.egress.fetch(url, init);
        if (r.status >= 500) throw new IdpServerError(r);
        return r;
      });
      if (!opts.staleJwks || res.status !== 200) return res;
      const body = await res.text();
      lastGoodJwks.set(remembered, { body, at: s.clock.now().getTime() });
      return jsonResponse(body);
    } catch (err) {
      const stale = opts.staleJwks ? lastGoodJwks.get(remembered) : undefined;
      if (stale && s.clock.now().getTime() - stale.at < STALE_JWKS_MAX_MS) return jsonResponse(stale.body);
      if (err instanceof IdpServerError) return err.response;
      throw err;
    }
  };
}

function jsonResponse(body: string): Response {
  return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
}
