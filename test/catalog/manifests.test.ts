import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Artifact } from '../../src/catalog/artifact.js';
import { buildArtifacts, buildManifests } from '../../src/catalog/build-manifests.js';
import { loadCatalogConfig } from '../../src/catalog/catalog-config.js';
import { checkManifests } from '../../src/catalog/check-manifests.js';
import { allGoogleScopes } from '../../src/connectors/google/google-scopes.js';
import { GOOGLE_SIGN_IN_SCOPES } from '../../src/catalog/build-google.js';
import {
  ENTRA_SIGN_IN_SCOPES,
  GRAPH_APP_ID,
  GRAPH_DELEGATED_PERMISSION_IDS,
  GROUPS_OVERAGE_SCOPES,
  MICROSOFT_TOOL_SCOPES,
} from '../../src/connectors/microsoft/microsoft-scopes.js';
import { validateArtifacts } from '../../src/catalog/validate-artifacts.js';
import { runCli } from '../../src/cli/main.js';
import { startTestApp, testMasterKey, type TestApp } from '../support/test-app.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const configFile = path.join(root, 'manifests/catalog.config.json');
const schemaDir = path.join(root, 'manifests/schemas');
const BASE = 'https://bridge.example.com';
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'sso-bridge-manifests-test-'));

const artifacts = () => buildArtifacts({ base: BASE, catalog: loadCatalogConfig(configFile) });
const json = (list: Artifact[], file: string) => (list.find((a) => a.kind === 'json' && a.file === file) as Extract<Artifact, { kind: 'json' }>).data as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const errorsOf = (list: Artifact[]) => validateArtifacts(list, { schemaDir, base: BASE, production: true }).errors;

describe('manifests build', () => {
  it('writes every catalog deterministically, matching the reviewed snapshots', async () => {
    const a = tmp();
    const b = tmp();
    const first = buildManifests({ configFile, outDir: a, base: BASE, production: true });
    buildManifests({ configFile, outDir: b, base: BASE, production: true });
    expect(first.files).toContain('okta-oin/submission.json');
    for (const f of first.files) {
      const bytes = readFileSync(path.join(a, f));
      expect(bytes.equals(readFileSync(path.join(b, f))), f).toBe(true);
      if (!f.endsWith('.png')) await expect(bytes.toString('utf8')).toMatchFileSnapshot(`__snapshots__/${f}`);
    }
    // Stable key order: keys sorted at every depth.
    const sub = readFileSync(path.join(a, 'okta-oin/submission.json'), 'utf8');
    expect(Object.keys(JSON.parse(sub) as object)).toEqual([...Object.keys(JSON.parse(sub) as object)].sort());
  });

  it('every generated artifact passes its JSON Schema and the catalog rules', () => {
    expect(errorsOf(artifacts())).toEqual([]);
  });

  it('follows the OIN rules: multi-tenant variables, no refresh tokens, no Basic SCIM auth, Universal Logout declared', () => {
    const sub = json(artifacts(), 'submission.json');
    expect(sub.sso.saml.acs[0].url).toBe(`${BASE}/t/\${org.tenant}/saml/acs`);
    expect(sub.sso.oidc.redirectUris).toEqual([`${BASE}/t/{app.tenant}/oidc/callback`]);
    expect(sub.sso.oidc.scopes).not.toContain('offline_access');
    expect(sub.sso.oidc.grantTypes).toEqual(['authorization_code']);
    expect(sub.provisioning.scim).toMatchObject({ authMode: 'BEARER', baseUri: `'${BASE}/t/' + app.tenant + '/scim/v2'` });
    expect(sub.capabilities.map((c: { capability: string }) => c.capability)).toEqual(['SSO', 'PROVISIONING', 'UNIVERSAL_LOGOUT']);
  });

  it('the Entra application is multi-tenant with the shared and consent callbacks and the access_as_user scope', () => {
    const appJson = json(artifacts(), 'application.json');
    expect(appJson.signInAudience).toBe('AzureADMultipleOrgs');
    expect(appJson.web.redirectUris).toEqual([`${BASE}/onboarding/entra/callback`, `${BASE}/oidc/callback`]);
    expect(appJson.api.oauth2PermissionScopes[0].value).toBe('access_as_user');
    expect(appJson.requiredResourceAccess[0].resourceAccess).toContainEqual({ id: 'e1fe6dd8-ba31-4d61-89e7-88639da4683d', type: 'Scope' });
    expect(json(artifacts(), 'scim-provisioning.json').authentication).toMatchObject({ method: 'oauth2_client_credentials', tokenEndpoint: `${BASE}/t/<tenant>/oauth/token` });
  });

  it('the Entra app requests every Graph permission a Microsoft tool, the groups overage or sign-in needs, and nothing else', () => {
    const list = artifacts();
    const access = json(list, 'application.json').requiredResourceAccess as { resourceAppId: string; resourceAccess: { id: string; type: string }[] }[];
    expect(access.map((r) => r.resourceAppId)).toEqual([GRAPH_APP_ID]);
    const requested = access[0]!.resourceAccess;
    const needed = new Set<keyof typeof GRAPH_DELEGATED_PERMISSION_IDS>([...Object.values(MICROSOFT_TOOL_SCOPES).flat(), ...GROUPS_OVERAGE_SCOPES, ...ENTRA_SIGN_IN_SCOPES]);
    for (const [tool, scopes] of Object.entries(MICROSOFT_TOOL_SCOPES)) {
      for (const p of scopes) expect(requested, `${tool} needs ${p}`).toContainEqual({ id: GRAPH_DELEGATED_PERMISSION_IDS[p], type: 'Scope' });
    }
    expect(requested).toHaveLength(needed.size);
    for (const p of ['Calendars.Read.Shared', 'Files.Read', 'User.Read.All', 'GroupMember.Read.All', 'Chat.ReadBasic', 'ChannelMessage.Send'] as const) {
      expect(requested).toContainEqual({ id: GRAPH_DELEGATED_PERMISSION_IDS[p], type: 'Scope' });
    }
    // The gallery form's permission list is the same set, each with a reason.
    const form = json(list, 'gallery-submission.json').graphPermissions as { permission: string; justification: string }[];
    expect(form.map((f) => f.permission).sort()).toEqual([...needed].sort());
    expect(form.find((f) => f.permission === 'Calendars.Read.Shared')!.justification).toContain('microsoft__calendar_find_meeting_times');
  });

  it('the Graph permission ids are distinct UUIDs (a copy error would grant the wrong permission)', () => {
    const ids = Object.values(GRAPH_DELEGATED_PERMISSION_IDS);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('Google scopes are exactly sign-in plus the union of the Google tools’ scopes, identical on the SDK and the consent screen', () => {
    const list = artifacts();
    const sdk = json(list, 'marketplace-sdk.json').oauthScopes as string[];
    expect([...sdk].sort()).toEqual([...new Set([...GOOGLE_SIGN_IN_SCOPES, ...allGoogleScopes()])].sort());
    expect(json(list, 'oauth-consent-screen.json').scopes).toEqual(sdk);
  });

  it('refuses artifacts that break a vendor rule', () => {
    const cases: [string, (l: Artifact[]) => void, RegExp][] = [
      ['offline_access in the OIN OIDC app', (l) => json(l, 'submission.json').sso.oidc.scopes.push('offline_access'), /scopes/],
      ['refresh_token grant in the OIN OIDC app', (l) => json(l, 'submission.json').sso.oidc.grantTypes.push('refresh_token'), /grantTypes/],
      ['Basic auth for SCIM', (l) => (json(l, 'submission.json').provisioning.scim.authMode = 'BASIC'), /authMode/],
      ['"_" in the SCIM base URL', (l) => (json(l, 'submission.json').provisioning.scim.baseUri = `'https://my_host.example/t/' + app.tenant + '/scim/v2'`), /baseUri|must not contain "_"/],
      ['a fourth tenant variable', (l) => json(l, 'submission.json').config.push({ label: 'a', name: 'a' }, { label: 'b', name: 'b' }, { label: 'c', name: 'c' }), /config/],
      ['SAML URL with an app.* variable', (l) => (json(l, 'submission.json').sso.saml.entityId = `${BASE}/t/{app.tenant}/saml/metadata`), /entityId/],
      ['single-tenant Entra app', (l) => (json(l, 'application.json').signInAudience = 'AzureADMyOrg'), /signInAudience/],
      ['implicit grant on', (l) => (json(l, 'application.json').web.implicitGrantSettings.enableIdTokenIssuance = true), /implicitGrantSettings/],
      ['consent callback missing', (l) => json(l, 'application.json').web.redirectUris.shift(), /admin-consent callback/],
      ['a resource id that is not a UUID', (l) => (json(l, 'application.json').requiredResourceAccess[0].resourceAppId = 'microsoft-graph'), /resourceAppId must match format "uuid"/],
      ['a support e-mail that is not an address', (l) => (json(l, 'gallery-submission.json').publisher.supportEmail = 'support at example'), /supportEmail must match format "email"/],
      ['a URL that is not a URI', (l) => (json(l, 'store-listing.json').links.supportUrl = 'https://www.sso-bridge.example/sup port'), /supportUrl must match format "uri"/],
      ['application permission instead of delegated', (l) => (json(l, 'application.json').requiredResourceAccess[0].resourceAccess[0].type = 'Role'), /resourceAccess/],
      ['long-lived SCIM bearer for Entra', (l) => (json(l, 'scim-provisioning.json').authentication.method = 'bearer'), /method/],
      ['SCIM token lifetime of 24 h', (l) => (json(l, 'scim-provisioning.json').authentication.accessTokenLifetimeSeconds = 86_400), /accessTokenLifetimeSeconds/],
      ['Google scope lists differ', (l) => json(l, 'oauth-consent-screen.json').scopes.pop(), /scopes differ/],
      ['individual installs allowed on the Marketplace', (l) => (json(l, 'marketplace-sdk.json').installationSettings = 'INDIVIDUAL_AND_ADMIN_INSTALL'), /installationSettings must be equal to constant/],
      ['consent screen left Internal', (l) => (json(l, 'oauth-consent-screen.json').userType = 'Internal'), /userType/],
      ['privacy policy on another domain', (l) => (json(l, 'oauth-consent-screen.json').privacyPolicyUrl = 'https://elsewhere.example/privacy'), /one verified domain/],
      ['a plain-http URL', (l) => (json(l, 'store-listing.json').links.supportUrl = 'http://www.sso-bridge.example/support'), /not https|supportUrl/],
      ['wrong logo size', (l) => Object.assign(l.find((a) => a.file === 'logo-215x215.png')!, { size: { width: 300, height: 300 } }), /must be 300×300/],
      ['not a PNG', (l) => Object.assign(l.find((a) => a.file === 'logo.png')!, { bytes: Buffer.from('GIF89a') }), /not a PNG/],
    ];
    for (const [name, mutate, expected] of cases) {
      const list = artifacts();
      mutate(list);
      expect(errorsOf(list).join('\n'), name).toMatch(expected);
    }
  });

  it('an http or loopback PUBLIC_URL is an error in production and a warning otherwise', () => {
    const list = buildArtifacts({ base: 'http://localhost:3000', catalog: loadCatalogConfig(configFile) });
    expect(validateArtifacts(list, { schemaDir, base: 'http://localhost:3000', production: true }).errors.join()).toMatch(/not a public https URL/);
    const dev = validateArtifacts(list, { schemaDir, base: 'http://localhost:3000', production: false });
    expect(dev.errors).toEqual([]);
    expect(dev.warnings.join()).toMatch(/not a public https URL/);
  });
});

describe('manifests check against a started server', () => {
  let app: TestApp;
  let slug: string;
  beforeAll(async () => {
    app = await startTestApp('pglite');
    slug = (await app.createTenant()).slug;
  }, 120_000);
  afterAll(() => app?.close());

  const check = (dir: string) => checkManifests({ configFile, dir, base: app.url, production: false, config: app.config, target: { url: app.url, slug } });

  it('every URL of every artifact is answered by the server', { timeout: 120_000 }, async () => {
    const dir = tmp();
    buildManifests({ configFile, outDir: dir, base: app.url, production: false });
    const result = await check(dir);
    expect(result.ok).toBe(true);
    const urls = result.urls.map((u) => u.url);
    for (const p of [`/t/${slug}/saml/acs`, `/t/${slug}/scim/v2`, `/t/${slug}/oauth/token`, `/t/${slug}/global-token-revocation`, '/oidc/callback', '/onboarding/entra/callback', '/onboarding/entra/start', '/signup']) {
      expect(urls).toContain(`${app.url}${p}`);
    }
    expect(result.external).toContain('https://www.sso-bridge.example/legal/privacy');
  });

  it('fails on a URL the server does not answer, a hand-edited or stale file, and a stray file', { timeout: 120_000 }, async () => {
    const dir = tmp();
    buildManifests({ configFile, outDir: dir, base: app.url, production: false });
    const guide = path.join(dir, 'okta-oin/configuration-guide.md');
    writeFileSync(guide, `${readFileSync(guide, 'utf8')}\nSee ${app.url}/t/{slug}/no-such-page and ${app.url}/t/{slug}/saml/metadata-typo\n`);
    writeFileSync(path.join(dir, 'entra-gallery/notes.txt'), 'x');
    const err = await check(dir).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toContain('configuration-guide.md: differs');
    expect(msg).toContain(`${app.url}/t/${slug}/no-such-page: not a URL of the contract`);
    expect(msg).toContain('entra-gallery/notes.txt: not a generated file');
  });

  it('fails when the server does not serve a contract URL (unknown tenant)', { timeout: 120_000 }, async () => {
    const dir = tmp();
    buildManifests({ configFile, outDir: dir, base: app.url, production: false });
    const err = await checkManifests({ configFile, dir, base: app.url, production: false, config: app.config, target: { url: app.url, slug: 'no-such-tenant' } }).catch((e: Error) => e);
    expect((err as Error).message).toContain(`${app.url}/t/no-such-tenant/saml/metadata: the server has no such route`);
  });

  it('fails when the artifacts were built for another PUBLIC_URL', { timeout: 120_000 }, async () => {
    const dir = tmp();
    buildManifests({ configFile, outDir: dir, base: 'https://old.example.com', production: false });
    await expect(check(dir)).rejects.toThrow(/differs from what `manifests build` makes/);
  });
});

describe('the CLI, as an operator (and CI) runs it: manifests build, then manifests check on its in-process server', () => {
  async function cli(env: Record<string, string>, ...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l), stdin: async () => '', env: { LOG_LEVEL: 'silent', ...env } });
    return { code, err: err.join('\n'), json: code === 0 && out.length === 1 ? (JSON.parse(out[0]!) as Record<string, any>) : undefined }; // eslint-disable-line @typescript-eslint/no-explicit-any
  }

  it('builds, then checks every URL against the application started on a throwaway database; a stale file fails with exit 1', { timeout: 180_000 }, async () => {
    const env = { PUBLIC_URL: BASE, DATA_DIR: tmp(), MASTER_KEY: testMasterKey() };
    const dir = tmp();
    const built = await cli(env, 'manifests', 'build', '--out', dir, '--config', configFile);
    expect(built.code, built.err).toBe(0);
    expect(built.json!.files).toContain('entra-gallery/application.json');

    const checked = await cli(env, 'manifests', 'check', '--dir', dir, '--config', configFile);
    expect(checked.code, checked.err).toBe(0);
    expect(checked.json!.ok).toBe(true);
    const answered = (checked.json!.urls as { url: string; status: number }[]).map((u) => u.url);
    for (const p of ['/t/catalog-check/saml/acs', '/t/catalog-check/scim/v2', '/onboarding/entra/callback', '/oidc/callback']) expect(answered).toContain(`${BASE}${p}`);

    const sdk = path.join(dir, 'google-workspace/marketplace-sdk.json');
    writeFileSync(sdk, readFileSync(sdk, 'utf8').replace('"ADMIN_ONLY_INSTALL"', '"INDIVIDUAL_AND_ADMIN_INSTALL"'));
    const stale = await cli(env, 'manifests', 'check', '--dir', dir, '--config', configFile);
    expect(stale.code).toBe(1);
    expect(stale.err).toContain('google-workspace/marketplace-sdk.json: differs');
  });
});
