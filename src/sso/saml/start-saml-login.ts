import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import type { Connection } from '../connections/manage-connections.js';
import { forcedLoginState, type LoginPurpose } from '../login/login-purpose.js';
import { samlInstance } from './saml-instance.js';

/**
 * SP-initiated login (HTTP-Redirect binding): a SHA-256-signed AuthnRequest whose ID is stored as LoginState (for the
 * InResponseTo check) together with the return path and the browser binding (login CSRF); RelayState carries the
 * return path too (SAML bindings §3.4.3). `purpose.forceLogin` sets ForceAuthn="true" (re-authentication, test).
 */
export async function startSamlLogin(s: Services, t: TenantCtx, conn: Connection, returnTo: string, browser: string, purpose: LoginPurpose = {}): Promise<string> {
  const saml = await samlInstance(s, t, conn, returnTo, undefined, 'login', browser, { forceAuthn: purpose.forceLogin === true, state: forcedLoginState(s, purpose) });
  return saml.getAuthorizeUrlAsync(returnTo, undefined, {});
}
