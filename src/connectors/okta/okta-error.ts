/**
 * A failed Okta Management API request, from Okta's error body (`errorCode`, `errorSummary`, `errorCauses`) or from
 * the transport (status 0). Messages are Okta's summaries (no tokens, no stack), shortened: they reach the admin.
 */
export class OktaError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message.slice(0, 500));
    this.name = 'OktaError';
  }
}

/** The SDK's OktaApiError / HttpError / OAuth token error, or ours, as one OktaError. */
export function toOktaError(err: unknown): OktaError {
  if (err instanceof OktaError) return err;
  const e = err as { status?: unknown; errorCode?: unknown; errorSummary?: unknown; errorCauses?: unknown; message?: unknown; name?: unknown } | null;
  if (e && typeof e === 'object' && typeof e.status === 'number') {
    if (typeof e.errorCode === 'string') {
      const causes = Array.isArray(e.errorCauses) ? e.errorCauses.map((c) => (c as { errorSummary?: string }).errorSummary).filter(Boolean) : [];
      return new OktaError(e.status, e.errorCode, [String(e.errorSummary ?? ''), ...causes].filter(Boolean).join('. ') || `HTTP ${e.status}`);
    }
    return new OktaError(e.status, 'HTTP', `Okta answered HTTP ${e.status}`);
  }
  return new OktaError(0, 'E_CLIENT', e && typeof e === 'object' && typeof e.message === 'string' ? e.message : String(err));
}

/** The org could not be talked to at all (as opposed to Okta refusing something): network, address, origin, redirect. */
export const isTransportError = (e: OktaError) => ['E_NETWORK', 'E_ADDRESS', 'E_ORIGIN', 'E_REDIRECT'].includes(e.errorCode);
