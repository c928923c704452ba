import type { OktaApi } from './okta-client.js';
import { isTransportError, toOktaError, type OktaError } from './okta-error.js';

export type ProbeState = 'ok' | 'denied' | 'error';

export interface OktaProbe {
  /** One read per scope the connector uses; `denied` = 401/403 (scope not granted, role too weak). */
  checks: Record<'okta.apps.read' | 'okta.users.read' | 'okta.groups.read', ProbeState>;
  errors: Record<string, string>;
  app: { id: string; label: string | null; name: string | null; status: string | null } | null;
}

/**
 * Reads what the connector relies on, one small request each: our app integration (okta.apps.read), one user
 * (okta.users.read), one group (okta.groups.read). A credential Okta refuses outright (bad token, bad client
 * assertion, scope not granted to the service app) fails the token request and is thrown, not reported per check.
 */
export async function probeOkta(api: OktaApi, appId: string): Promise<OktaProbe> {
  const checks = {} as OktaProbe['checks'];
  const errors: Record<string, string> = {};
  let app: OktaProbe['app'] = null;
  const run = async (scope: keyof OktaProbe['checks'], read: () => Promise<void>) => {
    try {
      await read();
      checks[scope] = 'ok';
    } catch (err) {
      const e = toOktaError(err);
      if (isTransportError(e) || isCredentialRefused(e)) throw e;
      checks[scope] = e.status === 401 || e.status === 403 ? 'denied' : 'error';
      errors[scope] = `${e.errorCode}: ${e.message}`;
    }
  };
  await run('okta.apps.read', async () => {
    const a = await api.client.applicationApi.getApplication({ appId });
    app = { id: String(a.id ?? appId), label: a.label ?? null, name: (a as { name?: string }).name ?? null, status: a.status ? String(a.status) : null };
  });
  await run('okta.users.read', async () => {
    await (await api.client.userApi.listUsers({ limit: 1 })).next();
  });
  await run('okta.groups.read', async () => {
    await (await api.client.groupApi.listGroups({ limit: 1 })).next();
  });
  return { checks, errors, app };
}

/** A refused credential rather than a refused read: the token request failed, or the API token is invalid. */
export function isCredentialRefused(e: OktaError): boolean {
  return e.message.startsWith('token request refused') || e.errorCode === 'E0000011' || (e.status === 401 && e.errorCode !== 'E0000006');
}
