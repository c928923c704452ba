/**
 * A refused Global Token Revocation request (draft-parecki-oauth-global-token-revocation §2.3): the HTTP status the
 * draft assigns and a reason for the audit trail. The body says little — the caller is an IdP, not a person.
 */
export class GtrError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 429,
    readonly reason: string,
    /** 429: seconds until the caller's window ends (Retry-After). */
    readonly retryAfterS?: number,
  ) {
    super(reason);
    this.name = 'GtrError';
  }
}
