import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Artifact, BuildInput, CatalogName } from './artifact.js';
import { buildEntra } from './build-entra.js';
import { buildGoogle } from './build-google.js';
import { buildOkta } from './build-okta.js';
import { CatalogError, loadCatalogConfig } from './catalog-config.js';
import { stableJson } from './stable-json.js';
import { validateArtifacts } from './validate-artifacts.js';

export const CATALOGS: CatalogName[] = ['okta-oin', 'entra-gallery', 'google-workspace'];

/** Every artifact of every catalog, in a fixed order. */
export function buildArtifacts(input: BuildInput): Artifact[] {
  return [...buildOkta(input), ...buildEntra(input), ...buildGoogle(input)];
}

/** The bytes a generated file holds. */
export function artifactBytes(a: Artifact): Buffer {
  if (a.kind === 'json') return Buffer.from(stableJson(a.data));
  if (a.kind === 'markdown') return Buffer.from(a.text.endsWith('\n') ? a.text : `${a.text}\n`);
  return a.bytes;
}

export interface BuildOptions {
  configFile: string;
  outDir: string;
  base: string;
  production: boolean;
}

/**
 * `manifests build`: renders every catalog from PUBLIC_URL and the config, validates everything, and only then
 * replaces the catalog folders (a failed build never leaves a half-written dist).
 */
export function buildManifests(o: BuildOptions) {
  const catalog = loadCatalogConfig(o.configFile);
  const artifacts = buildArtifacts({ base: o.base, catalog });
  const findings = validateArtifacts(artifacts, { schemaDir: path.join(catalog.dir, 'schemas'), base: o.base, production: o.production });
  if (findings.errors.length) throw new CatalogError(findings.errors);
  for (const name of CATALOGS) {
    rmSync(path.join(o.outDir, name), { recursive: true, force: true });
    mkdirSync(path.join(o.outDir, name), { recursive: true });
  }
  for (const a of artifacts) writeFileSync(path.join(o.outDir, a.catalog, a.file), artifactBytes(a));
  return { out: path.resolve(o.outDir), publicUrl: o.base, files: artifacts.map((a) => `${a.catalog}/${a.file}`), warnings: findings.warnings };
}
