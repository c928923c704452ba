import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import type { Artifact } from './artifact.js';
import { readPng } from './png-size.js';

export interface Findings {
  errors: string[];
  warnings: string[];
}

// ajv-formats is CommonJS with `exports.default`: under NodeNext the default import is the module object.
const addFormats = ajvFormats.default;

/**
 * JSON Schemas in manifests/schemas/<name>.schema.json, compiled once per folder. `format` is asserted (ajv-formats,
 * full mode): `uri` (RFC 3986) for plain URLs, `uuid` for Entra ids, `email` for contacts. Templated URLs (`<tenant>`,
 * `${org.…}`, `{app.…}`) are not URIs and keep their patterns.
 */
function schemaLoader(dir: string): (name: string) => ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: true });
  addFormats(ajv, ['uri', 'uuid', 'email']);
  const compiled = new Map<string, ValidateFunction>();
  return (name) => {
    let v = compiled.get(name);
    if (!v) {
      const file = path.join(dir, `${name}.schema.json`);
      v = ajv.compile(JSON.parse(readFileSync(file, 'utf8')) as object);
      compiled.set(name, v);
    }
    return v;
  };
}

const URL_IN_TEXT = /https?:\/\/[^\s)`'"\]]+/g;

/** Every string of a JSON value, depth first. */
export function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsOf);
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsOf);
  return [];
}

/**
 * Validates artifacts against their JSON Schemas and the catalog rules a schema cannot say (catalogs.md §6): https
 * everywhere (plain http only outside production, as a warning), logos of the documented sizes, the Entra consent
 * callback among the redirect URIs, ≤ 1200 manifest entries, Google's scope lists identical.
 */
export function validateArtifacts(artifacts: Artifact[], opts: { schemaDir: string; base: string; production: boolean }): Findings {
  const errors: string[] = [];
  const warnings: string[] = [];
  const schema = schemaLoader(opts.schemaDir);
  const where = (a: Artifact) => `${a.catalog}/${a.file}`;
  const base = new URL(opts.base);
  if (base.protocol !== 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(base.hostname)) {
    (opts.production ? errors : warnings).push(`PUBLIC_URL ${opts.base} is not a public https URL: fine for tests, never for a catalog submission`);
  }
  for (const a of artifacts) {
    if (a.kind === 'json') {
      const validate = schema(a.schema);
      if (!validate(a.data)) {
        for (const e of validate.errors ?? []) errors.push(`${where(a)}: ${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`);
      }
      for (const url of stringsOf(a.data).flatMap((s) => s.match(URL_IN_TEXT) ?? [])) {
        if (url.startsWith('http://') && !(url.startsWith(`${opts.base}`) && !opts.production)) errors.push(`${where(a)}: ${url} is not https`);
      }
    } else if (a.kind === 'logo') {
      const png = readPng(a.bytes);
      if (!png) errors.push(`${where(a)}: not a PNG`);
      else {
        if (png.width !== a.size.width || png.height !== a.size.height) errors.push(`${where(a)}: ${png.width}×${png.height}, must be ${a.size.width}×${a.size.height}`);
        if (!png.hasAlpha) (a.catalog === 'entra-gallery' ? errors : warnings).push(`${where(a)}: not transparent`);
      }
      if (a.bytes.length > a.maxBytes) errors.push(`${where(a)}: ${a.bytes.length} bytes, limit ${a.maxBytes}`);
    }
  }
  const json = (catalog: string, file: string) => artifacts.find((a) => a.kind === 'json' && a.catalog === catalog && a.file === file) as Extract<Artifact, { kind: 'json' }> | undefined;

  const okta = json('okta-oin', 'submission.json')?.data as { provisioning?: { scim?: { baseUri?: string } } } | undefined;
  if (okta?.provisioning?.scim?.baseUri?.replace(/ \+ app\.[a-z0-9_]+ \+ /, '').includes('_')) errors.push(`okta-oin/submission.json: the SCIM base URL must not contain "_"`);

  const app = json('entra-gallery', 'application.json')?.data as { web?: { redirectUris?: string[] }; identifierUris?: string[] } | undefined;
  if (app) {
    if (!app.web?.redirectUris?.includes(`${opts.base}/onboarding/entra/callback`)) errors.push('entra-gallery/application.json: the admin-consent callback is not a redirect URI');
    const entries = Object.values(app).reduce<number>((n, v) => n + (Array.isArray(v) ? v.length : 0), 0);
    if (entries > 1200) errors.push(`entra-gallery/application.json: ${entries} entries in collections, Entra's manifest limit is 1200`);
    if (!app.identifierUris?.length) warnings.push('entra-gallery/application.json: identifierUris is empty until entra.appId is set (second build after the app registration exists)');
  }

  const sdk = json('google-workspace', 'marketplace-sdk.json')?.data as { oauthScopes?: string[] } | undefined;
  const consent = json('google-workspace', 'oauth-consent-screen.json')?.data as { scopes?: string[]; appHomepageUrl?: string; privacyPolicyUrl?: string; termsOfServiceUrl?: string } | undefined;
  if (sdk && consent && JSON.stringify([...(sdk.oauthScopes ?? [])].sort()) !== JSON.stringify([...(consent.scopes ?? [])].sort())) {
    errors.push('google-workspace: Marketplace SDK scopes and consent-screen scopes differ (they must be the same list)');
  }
  if (consent) {
    const site = (u?: string) => (u ? new URL(u).hostname.split('.').slice(-2).join('.') : '');
    const domains = new Set([consent.appHomepageUrl, consent.privacyPolicyUrl, consent.termsOfServiceUrl].map(site));
    if (domains.size !== 1) errors.push('google-workspace/oauth-consent-screen.json: homepage, privacy policy and terms must be on one verified domain');
  }
  return { errors, warnings };
}
