import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { ConnectorRow } from '../connector-store.js';
import { oktaClientFor } from './okta-client.js';
import { oktaConfig } from './okta-config.js';
import { isTransportError, toOktaError } from './okta-error.js';
import { probeOkta } from './okta-probe.js';

/** `connector test` for Okta: the credential, then one read per scope (our app, users, groups). Never throws on Okta's answer. */
export async function testOktaConnector(s: Services, t: TenantCtx, row: ConnectorRow) {
  const config = oktaConfig(row);
  const base = { id: row.id, kind: 'okta', orgUrl: config.orgUrl, auth: config.auth, appId: config.appId };
  const api = await oktaClientFor(s, t, row);
  try {
    const probe = await probeOkta(api, config.appId);
    const ok = Object.values(probe.checks).every((v) => v === 'ok');
    return { ...base, ok, credential: 'accepted', checks: probe.checks, ...(Object.keys(probe.errors).length > 0 && { errors: probe.errors }), app: probe.app, directorySource: ok };
  } catch (err) {
    const e = toOktaError(err);
    // The probe throws only for a refused credential or an org it cannot talk to (network, address, origin, redirect).
    const credential = isTransportError(e) ? 'unreachable' : 'refused';
    return { ...base, ok: false, credential, error: `${e.errorCode}: ${e.message}`, directorySource: false };
  }
}
