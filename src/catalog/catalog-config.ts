import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const https = z.url({ protocol: /^https$/, error: 'must be an absolute https URL' });
const email = z.email();

/**
 * `manifests/catalog.config.json`: what a deployment says about itself in every catalog (names, texts, logos,
 * publisher links, per-catalog ids). Every URL of the deployment itself comes from PUBLIC_URL and the contract
 * (catalog-urls.ts), never from this file; the publisher's own pages (support, privacy, terms) are external.
 */
export const CatalogConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  product: z.strictObject({
    // OIN: display name ≤ 64 characters.
    name: z.string().min(1).max(64),
    shortDescription: z.string().min(1).max(200),
    description: z.string().min(1).max(2000),
    // OIN: up to 3 use cases from Okta's list.
    useCases: z.array(z.string().min(1)).max(3),
    category: z.string().min(1),
  }),
  publisher: z.strictObject({
    name: z.string().min(1),
    website: https,
    supportEmail: email,
    escalationEmail: email,
    supportUrl: https,
    privacyUrl: https,
    termsUrl: https,
    documentationUrl: https,
  }),
  logos: z.strictObject({
    okta: z.string(),
    entraLarge: z.string(),
    entraSmall: z.string(),
    googleIcon128: z.string(),
    googleIcon32: z.string(),
    googleBanner: z.string(),
  }),
  okta: z.strictObject({
    // OIN tenant settings: names ^[a-z][a-z0-9_]*$, string only, at most 3 variables (catalogs.md §1).
    tenantVariable: z.strictObject({ name: z.string().regex(/^[a-z][a-z0-9_]*$/), label: z.string().min(1).max(100) }),
    ssoConfigGuideUrl: https,
    scimConfigGuideUrl: https,
    testAccount: z.strictObject({ url: https, username: z.string().min(1), instructions: z.string().max(2048) }),
  }),
  entra: z.strictObject({
    // Partner One (MPN) id, asked when the gallery submission is created.
    partnerId: z.string().regex(/^\d{4,10}$/),
    // The app registration's Application (client) ID, known after the first upload: identifierUris needs it.
    appId: z.uuid().nullable(),
    marketingUrl: https,
  }),
  google: z.strictObject({
    projectNumber: z.string().regex(/^\d{6,20}$/).nullable(),
    // Permanent once saved in the Marketplace SDK (catalogs.md §3): flagged in the generated checklist.
    visibility: z.enum(['Public', 'Private']),
    installation: z.enum(['admin_only', 'individual_and_admin']),
    category: z.string().min(1),
    developerName: z.string().min(1),
    regions: z.array(z.string().min(1)).min(1),
    pricing: z.string().min(1),
  }),
});

export type CatalogConfig = z.output<typeof CatalogConfigSchema>;

export interface LoadedCatalogConfig {
  config: CatalogConfig;
  /** Folder of the config file: logo paths are relative to it. */
  dir: string;
  logo(name: keyof CatalogConfig['logos']): Buffer;
}

/** Reads and validates the config file; every problem is listed in one error. */
export function loadCatalogConfig(file: string): LoadedCatalogConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CatalogError([`${file}: ${(err as Error).message}`]);
  }
  const parsed = CatalogConfigSchema.safeParse(raw);
  if (!parsed.success) throw new CatalogError(parsed.error.issues.map((i) => `${file}: ${i.path.join('.') || '(root)'}: ${i.message}`));
  const dir = path.dirname(path.resolve(file));
  return {
    config: parsed.data,
    dir,
    logo: (name) => {
      const rel = parsed.data.logos[name];
      const full = path.resolve(dir, rel);
      // Logos are files next to the config, never anything else on the machine.
      if (!full.startsWith(`${dir}${path.sep}`)) throw new CatalogError([`logos.${name}: ${rel} is outside ${dir}`]);
      try {
        return readFileSync(full);
      } catch {
        throw new CatalogError([`logos.${name}: cannot read ${rel}`]);
      }
    },
  };
}

/** A manifest problem: the generator and `manifests check` list all of them and exit non-zero. */
export class CatalogError extends Error {
  constructor(readonly problems: string[]) {
    super(`manifests: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'CatalogError';
  }
}
