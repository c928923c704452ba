import type { Services } from '../../../src/services.js';
import { ssoCommands } from '../../../src/sso/sso-commands.js';
import type { Options } from '../../../src/cli/command-table.js';

/** Runs an SSO CLI command in-process against the test app's services (same code path as `npm run cli`). */
export async function cli(s: Services, name: string, opts: Options): Promise<Record<string, unknown>> {
  const command = ssoCommands.find((c) => c.name === name);
  if (!command) throw new Error(`no command ${name}`);
  return (await command.run(s, opts)) as Record<string, unknown>;
}

import { afterAll, beforeAll } from 'vitest';
import { startOidcIdp } from './oidc-idp.js';
import type { TestDbKind } from '../../support/databases.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import type { TenantCtx } from '../../../src/tenants/tenant-context.js';
import { Browser } from './browser.js';
import type { TestAccount, TestOidcIdp } from './oidc-idp.js';

/** A tenant with one OIDC connection to the test IdP. */
export async function tenantWithOidc(app: TestApp, idp: TestOidcIdp, extra: Options = {}): Promise<{ t: TenantCtx; conn: Record<string, unknown> }> {
  const t = await app.createTenant();
  const conn = await cli(app.services, 'idp add-oidc', { tenant: t.slug, issuer: idp.issuer, 'client-id': idp.clientId, 'client-secret': idp.clientSecret, name: 'Corp IdP', ...extra });
  return { t, conn };
}

/** Signs `account` in through the whole browser flow; returns the browser holding the session cookie. */
export async function oidcLogin(app: TestApp, idp: TestOidcIdp, t: TenantCtx, account: TestAccount, browser = new Browser()): Promise<Browser> {
  idp.accounts.set(account.sub, account);
  idp.nextAccount = account.sub;
  const { res } = await browser.follow(`${app.url}/t/${t.slug}/oidc/login`);
  if (res.status !== 200) throw new Error(`login ended with ${res.status}: ${await res.text()}`);
  return browser;
}

import type { TestSamlIdp, ResponseOptions } from './saml-idp.js';
import { readAuthnRequest } from './saml-idp.js';

/**
 * A tenant trusting `idp` (metadata given inline, as `--metadata-file` would). IdP-initiated sign-in is turned ON here
 * (`idpInitiated: false` to keep the product default, off): most SAML tests post unsolicited responses.
 */
export async function tenantWithSaml(app: TestApp, idp: TestSamlIdp, extra: { allowedDomains?: string[]; jitEnabled?: boolean; metadata?: string; idpInitiated?: boolean } = {}) {
  const { addSamlConnection } = await import('../../../src/sso/connections/add-saml-connection.js');
  const t = await app.createTenant();
  let conn = await addSamlConnection(app.services, t, { metadataXml: extra.metadata ?? idp.metadata(), allowedDomains: extra.allowedDomains, jitEnabled: extra.jitEnabled });
  if (extra.idpInitiated ?? true) conn = (await cli(app.services, 'idp update', { tenant: t.slug, id: conn.id, 'idp-initiated': 'on' })) as typeof conn;
  const spMetadata = await (await fetch(`${app.url}/t/${t.slug}/saml/metadata`)).text();
  return { t, conn, spMetadata };
}

/** SP-initiated: our /saml/login → the IdP's SSO URL; returns the AuthnRequest id and RelayState. */
export async function startSpInitiated(app: TestApp, t: TenantCtx, browser: Browser, returnTo?: string) {
  const res = await browser.request(`${app.url}/t/${t.slug}/saml/login${returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : ''}`);
  if (res.status !== 303) throw new Error(`saml/login answered ${res.status}`);
  const location = res.headers.get('location')!;
  const req = readAuthnRequest(location);
  return { ...req, location, relayState: req.params.get('RelayState') ?? '' };
}

/**
 * The IdP's POST to the ACS, then (unless `raw`) the hop the ACS sends the browser on: `GET /saml/complete`, where the
 * session starts (docs/decisions/0011). Returns the last answer: the redirect to the return path, or a refusal page.
 */
export async function postToAcs(app: TestApp, t: TenantCtx, browser: Browser, samlResponse: string, relayState?: string, raw = false) {
  const res = await browser.postForm(`${app.url}/t/${t.slug}/saml/acs`, { SAMLResponse: samlResponse, ...(relayState !== undefined && { RelayState: relayState }) });
  if (raw || res.status !== 303 || res.headers.get('location') !== `/t/${t.slug}/saml/complete`) return res;
  return browser.request(`${app.url}/t/${t.slug}/saml/complete`);
}

/** The whole SP-initiated login; returns the ACS answer. */
export async function samlLogin(app: TestApp, t: TenantCtx, idp: TestSamlIdp, spMetadata: string, o: Omit<ResponseOptions, 'inResponseTo'>, browser = new Browser()) {
  const req = await startSpInitiated(app, t, browser);
  const response = await idp.response(spMetadata, { ...o, inResponseTo: req.id });
  return { res: await postToAcs(app, t, browser, response, req.relayState), browser, requestId: req.id, response };
}

/** Registers the hooks of a suite that needs the app and a corporate OIDC IdP, and hands both to `use`. */
export function useAppWithOidcIdp(kind: TestDbKind, use: (app: TestApp, idp: TestOidcIdp) => void): void {
  let app: TestApp | undefined;
  let idp: TestOidcIdp | undefined;
  beforeAll(async () => {
    const started = await startTestApp(kind);
    app = started;
    const corp = await startOidcIdp();
    idp = corp;
    corp.allowOrigin(started.url);
    use(started, corp);
  });
  afterAll(async () => {
    await idp?.close();
    await app?.close();
  });
}
