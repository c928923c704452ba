import { ConfidentialClientApplication, LogLevel } from '@azure/msal-node';
import type { Egress } from '../../http/egress.js';
import { authorityFor, type MicrosoftConfig } from './microsoft-config.js';
import { msalCredential, type MicrosoftCredential } from './microsoft-credential.js';
import { entraNetworkClient, getEntraJson } from './microsoft-http.js';

const METADATA_TTL_MS = 60 * 60_000;
/** Authorities kept; past it the oldest is dropped. The `tid` part comes from sign-ins: no input may grow the map. */
const MAX_METADATA = 1_000;
const metadata = new Map<string, { json: string; at: number }>();

/** Authorities whose metadata is kept (tests check the bound). */
export const cachedAuthorities = (): number => metadata.size;

/**
 * The tenant authority's OpenID metadata (`{host}/{tid}/v2.0/.well-known/openid-configuration`), fetched by us and
 * kept an hour, then handed to msal as `authorityMetadata`: msal then makes no metadata request of its own, so a
 * fresh client per user costs nothing and tokens of different users never share one msal cache.
 */
async function authorityMetadata(config: MicrosoftConfig, tid: string, now: number, fetch: Egress['fetch']): Promise<string> {
  const url = `${authorityFor(config, tid)}/v2.0/.well-known/openid-configuration`;
  const hit = metadata.get(url);
  if (hit && now - hit.at < METADATA_TTL_MS) return hit.json;
  const res = await getEntraJson(url, fetch);
  if (res.status !== 200 || typeof res.body.token_endpoint !== 'string') {
    throw Object.assign(new Error(`authority metadata ${url} answered HTTP ${res.status}`), { errorCode: res.status === 400 ? 'invalid_tenant' : 'endpoints_resolution_error' });
  }
  const json = JSON.stringify(res.body);
  metadata.delete(url);
  if (metadata.size >= MAX_METADATA) metadata.delete(metadata.keys().next().value!);
  metadata.set(url, { json, at: now });
  return json;
}

/**
 * A confidential client for one user's home tenant (`tid`) — never /common or /organizations: OBO must run against
 * the tenant that issued the assertion. `knownAuthorities` names the authority host, so msal never sends instance
 * discovery to login.microsoftonline.com (national clouds, tests). The client is per call: its token cache holds one
 * user's tokens and is dropped with it; our own caches (microsoft-tokens.ts) keep what is worth keeping. Every request
 * goes through `fetch`, the egress policy's (microsoft-http.ts).
 */
export async function msalClient(
  config: MicrosoftConfig,
  credential: MicrosoftCredential,
  tid: string,
  now: number,
  fetch: Egress['fetch'],
): Promise<ConfidentialClientApplication> {
  return new ConfidentialClientApplication({
    auth: {
      clientId: config.clientId,
      authority: authorityFor(config, tid),
      knownAuthorities: [new URL(config.authorityHost).host],
      authorityMetadata: await authorityMetadata(config, tid, now, fetch),
      ...msalCredential(credential),
    },
    system: {
      networkClient: entraNetworkClient(fetch),
      // msal logs token-request details at verbose levels; errors only, and never PII.
      loggerOptions: { logLevel: LogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => undefined },
    },
  });
}

/** The refresh token msal received in this client's cache (rotated by Entra on redemption), if any. */
export function refreshTokenInCache(cca: ConfidentialClientApplication): string | null {
  const cache = JSON.parse(cca.getTokenCache().serialize()) as { RefreshToken?: Record<string, { secret?: string }> };
  const entries = Object.values(cache.RefreshToken ?? {});
  return entries.length === 1 && entries[0]!.secret ? entries[0]!.secret : null;
}
