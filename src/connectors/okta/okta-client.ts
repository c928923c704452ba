import type okta from '@okta/okta-sdk-nodejs';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { ConnectorRow } from '../connector-store.js';
import { OKTA_SCOPES, oktaConfig, type OktaConfig, type OktaSecret } from './okta-config.js';
import { connectorTransport, createOktaExecutor, defaultSleep, type OktaExecutor, type OktaRetryPolicy } from './okta-http.js';

export interface OktaRuntime {
  retry: OktaRetryPolicy;
}

const runtimes = new WeakMap<object, OktaRuntime>();

/** Per-services knobs (one per app instance; tests replace `retry.sleep` to observe waits without waiting). */
export function oktaRuntime(s: Pick<Services, 'bus'>): OktaRuntime {
  let r = runtimes.get(s.bus);
  if (!r) {
    r = { retry: { maxRetries: 4, maxWaitMs: 60_000, padMs: 1_000, timeoutMs: 30_000, sleep: defaultSleep } };
    runtimes.set(s.bus, r);
  }
  return r;
}

export interface OktaApi {
  client: okta.Client;
  executor: OktaExecutor;
  config: Pick<OktaConfig, 'orgUrl' | 'auth' | 'clientId' | 'keyId'>;
}

/**
 * An okta-sdk-nodejs client for one run (one access token per run in private-key mode), pointed at the org URL, with
 * our request executor (okta-http.ts). The SDK's response cache is off: a sync must see Okta's current answer.
 */
export async function oktaClient(
  s: Pick<Services, 'bus' | 'config'>,
  config: Pick<OktaConfig, 'orgUrl' | 'auth' | 'clientId' | 'keyId'>,
  secret: OktaSecret,
  signal?: AbortSignal,
): Promise<OktaApi> {
  const origin = new URL(config.orgUrl);
  const executor = await createOktaExecutor(origin, connectorTransport(s.config, origin), oktaRuntime(s).retry, signal);
  const { Client } = (await import('@okta/okta-sdk-nodejs')).default;
  const common = { orgUrl: origin.origin, requestExecutor: executor, cacheMiddleware: null, userAgent: 'sso-bridge' };
  const client =
    'apiToken' in secret
      ? new Client({ ...common, authorizationMode: 'SSWS', token: secret.apiToken })
      : new Client({
          ...common,
          authorizationMode: 'PrivateKey',
          clientId: config.clientId,
          scopes: [...OKTA_SCOPES],
          privateKey: secret.privateKey,
          ...(config.keyId && { keyId: config.keyId }),
        });
  return { client, executor, config };
}

/** The client of a stored connector: settings from its row, credential from the vault. */
export async function oktaClientFor(s: Services, t: TenantCtx, row: ConnectorRow, signal?: AbortSignal): Promise<OktaApi> {
  const config = oktaConfig(row);
  const secret = JSON.parse(await s.vault.getString(t, row.secretId ?? '')) as OktaSecret;
  return oktaClient(s, config, secret, signal);
}
