import { badRequest } from '../../lib/errors.js';
import type { Services } from '../../services.js';
import type { TenantCtx } from '../../tenants/tenant-context.js';
import { createConnector } from '../connector-store.js';
import { checkMicrosoftCredential, entraConnections } from './check-credential.js';
import { defaultApiScope, MICROSOFT_CLOUDS, MicrosoftConfigSchema, type MicrosoftCloud } from './microsoft-config.js';
import { parseCertificate, parseClientSecret, serializeCredential, type MicrosoftCredential } from './microsoft-credential.js';
import { allGraphPermissions } from './microsoft-scopes.js';
import { microsoftToolProvider } from './microsoft-tools.js';

export interface AddMicrosoftInput {
  clientId: string;
  clientSecret?: string;
  certificate?: string;
  cloud?: string;
  authorityHost?: string;
  graphEndpoint?: string;
  apiScope?: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An https origin (msal-node refuses other authorities; Graph tokens must never travel in clear). */
function httpsOrigin(flag: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw badRequest(`--${flag} must be an absolute https URL`);
  }
  if (u.protocol !== 'https:') throw badRequest(`--${flag} must use https`);
  if (u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname !== '')) throw badRequest(`--${flag} must be an origin only (https://host[:port]), without path, query or credentials`);
  return u.origin;
}

/**
 * Connects a tenant's Microsoft 365 (issue 11): the app registration's credential (certificate preferred) goes to
 * the vault, checked first with a real client-credentials request when an Entra OIDC connection of the same app
 * names the Entra tenant (a credential Entra refuses is never stored); the tools are created unapproved; the answer
 * says what the Entra admin must configure (exposed API scope, delegated Graph permissions, admin consent).
 */
export async function addMicrosoftConnector(s: Services, t: TenantCtx, input: AddMicrosoftInput) {
  const clientId = input.clientId.trim().toLowerCase();
  if (!GUID.test(clientId)) throw badRequest('--client-id must be the application (client) id, a GUID');
  if ((input.clientSecret === undefined) === (input.certificate === undefined)) throw badRequest('give exactly one of --client-secret-file or --certificate-file');
  let credential: MicrosoftCredential;
  let thumbprintSha256: string | undefined;
  let notAfter: string | undefined;
  if (input.certificate !== undefined) ({ credential, thumbprintSha256, notAfter } = parseCertificate(input.certificate));
  else credential = parseClientSecret(input.clientSecret!);

  const cloudName = (input.cloud ?? 'global') as MicrosoftCloud;
  if (!(cloudName in MICROSOFT_CLOUDS)) throw badRequest('--cloud must be global, usgov, usgovdod or china');
  if ((input.authorityHost === undefined) !== (input.graphEndpoint === undefined)) throw badRequest('give --authority-host and --graph-endpoint together');
  const custom = input.authorityHost !== undefined;
  const authorityHost = custom ? httpsOrigin('authority-host', input.authorityHost!) : MICROSOFT_CLOUDS[cloudName].authorityHost;
  const graphEndpoint = custom ? httpsOrigin('graph-endpoint', input.graphEndpoint!) : MICROSOFT_CLOUDS[cloudName].graphEndpoint;
  const apiScope = input.apiScope?.trim() || defaultApiScope(clientId);
  if (!/^(api:\/\/|https:\/\/)[\x21-\x7e]{1,400}$/.test(apiScope)) throw badRequest('--api-scope must be the full scope URI, e.g. api://<client-id>/access_as_user');

  const config = MicrosoftConfigSchema.parse({ clientId, cloud: custom ? 'custom' : cloudName, authorityHost, graphEndpoint, credential: credential.kind, ...(thumbprintSha256 && { thumbprintSha256 }), apiScope });
  const check = await checkMicrosoftCredential(t, config, credential, s.clock.now().getTime(), s.egress.fetch);
  if (check.result === 'refused') throw badRequest(`Microsoft Entra refused the ${credential.kind === 'secret' ? 'client secret' : 'certificate'} (${check.error})`);
  const row = await createConnector(s, t, { kind: 'microsoft', config, secret: serializeCredential(credential) }, microsoftToolProvider);
  const connections = await entraConnections(t, config);
  return {
    id: row.id,
    kind: 'microsoft',
    clientId,
    cloud: config.cloud,
    authorityHost,
    graphEndpoint,
    credential: { kind: credential.kind, ...(thumbprintSha256 && { thumbprintSha256, notAfter }) },
    credentialCheck: check,
    tools: microsoftToolProvider.tools.map((x) => x.name),
    signInConnections: connections.map((c) => ({ id: c.id, name: c.name, entraTenant: c.entraTenant })),
    appRegistration: {
      exposeAnApi: { applicationIdUri: apiScope.slice(0, apiScope.lastIndexOf('/')), scope: apiScope, whoCanConsent: 'Admins and users' },
      delegatedGraphPermissions: allGraphPermissions(),
      adminConsentUrl: `${authorityHost}/${check.result !== 'skipped' ? check.tenant : 'organizations'}/adminconsent?client_id=${clientId}`,
    },
  };
}
