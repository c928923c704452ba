import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addOidcConnection } from '../../src/sso/connections/add-oidc-connection.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Entra's multi-tenant issuers validate every directory's ID tokens (openid-client substitutes the token's `tid` into
 * `iss`), and a directory's admins set its users' `email` (nOAuth): such a connection must name its directory.
 */
describe('an Entra multi-tenant issuer needs its directory pinned', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp('pglite');
  });
  afterAll(() => app?.close());

  const tid = '0b5c6f4e-1d2a-4c3b-9e8f-7a6b5c4d3e2f';
  const add = async (issuer: string, requiredClaims: Record<string, string> = {}) =>
    addOidcConnection(app.services, await app.createTenant(), { issuer, clientId: 'app', clientSecret: 'secret', sharedCallback: true, requiredClaims });

  it('refuses common, organizations, consumers and the {tenantid} template, in any cloud, without a tid to require', async () => {
    for (const issuer of [
      'https://login.microsoftonline.com/common/v2.0',
      'https://login.microsoftonline.com/organizations/v2.0/',
      'https://login.microsoftonline.com/Consumers/v2.0',
      'https://login.microsoftonline.com/{tenantid}/v2.0',
      'https://login.microsoftonline.us/organizations/v2.0',
      'https://login.microsoftonline.com/common',
    ]) {
      await expect(add(issuer), issuer).rejects.toThrow(/accepts every Microsoft Entra directory/);
      await expect(add(issuer, { tid: 'not-a-guid' }), issuer).rejects.toThrow(/accepts every Microsoft Entra directory/);
    }
  });

  it('accepts one with the directory pinned, and tenant-specific issuers as before (tid required from the issuer)', async () => {
    expect(await add('https://login.microsoftonline.com/organizations/v2.0', { tid: tid.toUpperCase() })).toMatchObject({ requiredClaims: { tid } });
    expect(await add(`https://login.microsoftonline.com/${tid}/v2.0`)).toMatchObject({ requiredClaims: { tid } });
    expect(await add('https://accounts.example.com/common-things')).toMatchObject({ requiredClaims: {} });
  });
});
