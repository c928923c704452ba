import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { badRequest } from '../../lib/errors.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { createConnector } from '../connector-store.js';
import type { ToolProvider } from '../connector-tool.js';
import { oktaClient } from './okta-client.js';
import { OKTA_SCOPES, OktaConfigSchema, type OktaSecret } from './okta-config.js';
import { isTransportError, toOktaError } from './okta-error.js';
import { discoverAppId } from './discover-app-id.js';
import { probeOkta } from './okta-probe.js';
import { parseOrgUrl } from './org-url.js';

/** Okta has no tools of its own (yet): the connector reads the directory. */
export const oktaToolProvider: ToolProvider = { kind: 'okta', tools: [] };

export interface AddOktaInput {
  orgUrl: string;
  apiToken?: string | undefined;
  clientId?: string | undefined;
  privateKey?: string | undefined;
  keyId?: string | undefined;
  appId?: string | undefined;
}

const OKTA_ID = /^[A-Za-z0-9]{1,64}$/;

/**
 * A private key the SDK can sign a client assertion with (RFC 7523 §2.2): an RSA private key of at least 2048 bits as
 * PEM, or as a private JWK (what Okta's console generates). Checked here so a wrong file fails before anything is sent.
 */
export function checkPrivateKey(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) throw badRequest('--private-key-file is empty');
  try {
    const key = trimmed.startsWith('{')
      ? createPrivateKey({ key: JSON.parse(trimmed) as JsonWebKey, format: 'jwk' })
      : createPrivateKey(trimmed);
    // okta-sdk-nodejs signs the assertion with njwt, which does RS256 only (an EC key fails with "unsupported algorithm").
    if (key.asymmetricKeyType !== 'rsa') throw badRequest('--private-key-file: the Okta SDK signs client assertions with RSA keys (RS256) only');
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw badRequest('--private-key-file: RSA keys must be at least 2048 bits');
    // The SDK reads PKCS#1 or PKCS#8 PEM (and JWKs through a converter); hand it one normalised PKCS#8 PEM.
    return key.export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch (err) {
    if (err instanceof Error && err.name === 'AppError') throw err;
    throw badRequest('--private-key-file is not a readable private key (PEM or private JWK)');
  }
}

/**
 * Connects a tenant's Okta org: validates the settings, checks the credential with real requests (a token request
 * in private-key mode, then one read per scope, including our app integration), stores the credential in the vault
 * only when Okta accepted it, and returns what was checked.
 */
export async function addOktaConnector(s: Services, t: TenantCtx, input: AddOktaInput) {
  const orgUrl = parseOrgUrl(input.orgUrl);
  const apiToken = input.apiToken?.trim();
  const clientId = input.clientId?.trim();
  if (apiToken && (clientId || input.privateKey)) throw badRequest('Give either --api-token-file or --client-id with --private-key-file, not both');
  if (!apiToken && !(clientId && input.privateKey)) throw badRequest('Give --client-id and --private-key-file (recommended) or --api-token-file');
  if (apiToken !== undefined && !/^[\x21-\x7e]{10,200}$/.test(apiToken)) throw badRequest('--api-token-file does not hold an Okta API token');
  if (clientId !== undefined && !OKTA_ID.test(clientId)) throw badRequest('--client-id: letters and digits (the service app\'s client id, e.g. 0oa1b2c3d4)');
  const keyId = input.keyId?.trim() || undefined;
  if (keyId !== undefined && !/^[A-Za-z0-9_-]{1,128}$/.test(keyId)) throw badRequest('--key-id: letters, digits, - and _');
  const secret: OktaSecret = apiToken ? { apiToken } : { privateKey: checkPrivateKey(input.privateKey ?? '') };
  const auth = apiToken ? 'api_token' : 'private_key';
  const appId = input.appId?.trim() || (await discoverAppId(t, orgUrl));
  if (!OKTA_ID.test(appId)) throw badRequest('--app-id: letters and digits (the app integration\'s id, e.g. 0oa1b2c3d4)');

  const api = await oktaClient(s, { orgUrl, auth, clientId, keyId }, secret);
  let probe;
  try {
    probe = await probeOkta(api, appId);
  } catch (err) {
    const e = toOktaError(err);
    if (isTransportError(e)) throw badRequest(`Cannot talk to Okta at ${orgUrl} (${e.errorCode}: ${e.message})`);
    throw badRequest(`Okta refused the ${auth === 'api_token' ? 'API token' : 'client assertion'} (${e.errorCode}: ${e.message})`);
  }
  const failed = Object.entries(probe.checks).filter(([, v]) => v !== 'ok');
  if (failed.length > 0) {
    const why = failed.map(([scope]) => `${scope}: ${probe.errors[scope] ?? 'refused'}`).join('; ');
    throw badRequest(`Okta refused reads the connector needs (${why}). Grant the service app ${OKTA_SCOPES.join(', ')} and the Read-only Administrator role, or use an API token of a read-only admin`);
  }
  const app = probe.app!;
  const config = OktaConfigSchema.parse({ orgUrl, auth, ...(clientId && { clientId }), ...(keyId && { keyId }), appId, ...(app.label && { appLabel: app.label }) });
  const row = await createConnector(s, t, { kind: 'okta', config, secret: JSON.stringify(secret) }, oktaToolProvider);
  return { id: row.id, kind: 'okta', orgUrl, auth, ...(clientId && { clientId }), app, scopes: auth === 'private_key' ? [...OKTA_SCOPES] : undefined, checks: probe.checks };
}
