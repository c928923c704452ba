import type { LoadedCatalogConfig } from './catalog-config.js';

export type CatalogName = 'okta-oin' | 'entra-gallery' | 'google-workspace';

/** One generated file: JSON (validated against `schema`, manifests/schemas/<schema>.schema.json), Markdown or a logo. */
export type Artifact =
  | { catalog: CatalogName; file: string; kind: 'json'; schema: string; data: Record<string, unknown> }
  | { catalog: CatalogName; file: string; kind: 'markdown'; text: string }
  | { catalog: CatalogName; file: string; kind: 'logo'; bytes: Buffer; size: { width: number; height: number }; maxBytes: number };

export interface BuildInput {
  /** PUBLIC_URL, no trailing slash. */
  base: string;
  catalog: LoadedCatalogConfig;
}
