import type { Services } from '../../../src/services.js';
import { ssoCommands } from '../../../src/sso/sso-commands.js';
import type { Options } from '../../../src/cli/command-table.js';

/** Runs an SSO CLI command in-process against the test app's services (same code path as `npm run cli`). */
export async function cli(s: Services, name: string, opts: Options): Promise<Record<string, unknown>> {
  const command = ssoCommands.find((c) => c.name === name);
  if (!command) throw new Error(`no command ${name}`);
  return (await command.run(s, opts)) as Record<string, unknown>;
}

import type { TestApp } from '../../support/test-app.js';
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
