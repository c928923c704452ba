import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Config } from '../config/config.js';
import { openDatabase } from '../db/open-database.js';
import { startServer } from '../http/start-server.js';
import { createServices } from '../services.js';
import { createTenant } from '../tenants/manage-tenants.js';
import type { Artifact } from './artifact.js';
import { artifactBytes, buildArtifacts, CATALOGS } from './build-manifests.js';
import { CatalogError, loadCatalogConfig } from './catalog-config.js';
import { checkUrls, urlsIn } from './check-urls.js';
import { validateArtifacts } from './validate-artifacts.js';

export interface CheckOptions {
  configFile: string;
  dir: string;
  base: string;
  production: boolean;
  /** A running deployment to request (`--base-url`) and one of its tenants (`--tenant`); else an in-process server. */
  target?: { url: string; slug: string };
  /** Configuration of the in-process server (its database is a throwaway in-memory one). */
  config: Config;
}

/**
 * `manifests check`: the files in `dir` are the ones `manifests build` makes from this config and PUBLIC_URL (none
 * missing, none stale, none extra), they pass their JSON Schemas and the catalog rules, and every deployment URL in
 * them is answered by the server.
 */
export async function checkManifests(o: CheckOptions) {
  const catalog = loadCatalogConfig(o.configFile);
  if (!existsSync(o.dir)) throw new CatalogError([`${o.dir} does not exist: run \`manifests build --out ${o.dir}\` first`]);
  const expected = buildArtifacts({ base: o.base, catalog });
  const errors: string[] = [];
  const onDisk: Artifact[] = [];
  const texts: string[] = [];
  for (const a of expected) {
    const file = path.join(o.dir, a.catalog, a.file);
    if (!existsSync(file)) {
      errors.push(`${a.catalog}/${a.file}: missing`);
      continue;
    }
    const bytes = readFileSync(file);
    if (!bytes.equals(artifactBytes(a))) errors.push(`${a.catalog}/${a.file}: differs from what \`manifests build\` makes from this config and PUBLIC_URL (stale or edited by hand)`);
    if (a.kind === 'json') {
      try {
        onDisk.push({ ...a, data: JSON.parse(bytes.toString('utf8')) as Record<string, unknown> });
      } catch {
        errors.push(`${a.catalog}/${a.file}: not JSON`);
      }
      texts.push(bytes.toString('utf8'));
    } else if (a.kind === 'markdown') {
      onDisk.push({ ...a, text: bytes.toString('utf8') });
      texts.push(bytes.toString('utf8'));
    } else onDisk.push({ ...a, bytes });
  }
  for (const name of CATALOGS) {
    const known = new Set(expected.filter((a) => a.catalog === name).map((a) => a.file));
    for (const f of existsSync(path.join(o.dir, name)) ? readdirSync(path.join(o.dir, name)) : []) if (!known.has(f)) errors.push(`${name}/${f}: not a generated file`);
  }
  const findings = validateArtifacts(onDisk, { schemaDir: path.join(catalog.dir, 'schemas'), base: o.base, production: o.production });
  errors.push(...findings.errors);

  const server = o.target ? undefined : await startCheckServer(o.config);
  try {
    const target = o.target ?? server!;
    const { checked, external } = await checkUrls(urlsIn(texts, target.slug), o.base, target.url.replace(/\/+$/, ''));
    for (const r of checked) if (!r.ok) errors.push(`${r.url}: ${r.problem}`);
    if (errors.length) throw new CatalogError(errors);
    return { ok: true, dir: path.resolve(o.dir), files: expected.length, urls: checked.map((r) => ({ url: r.url, method: r.method, status: r.status })), external, warnings: findings.warnings };
  } finally {
    await server?.close();
  }
}

/** The application on an ephemeral loopback port over an in-memory database with one tenant, for the URL check. */
async function startCheckServer(config: Config): Promise<{ url: string; slug: string; close(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sso-bridge-manifests-'));
  const cfg: Config = { ...config, dataDir, databaseUrl: undefined, masterKey: `mk-check:${randomBytes(32).toString('base64')}`, metricsPort: undefined, otelEndpoint: undefined };
  const database = await openDatabase({ kind: 'pglite' });
  const s = await createServices(cfg, { database, logger: pino({ level: 'silent' }) });
  await database.migrate();
  const slug = 'catalog-check';
  await createTenant(s.db, { slug, name: 'Catalog check' });
  const server = await startServer(s, { port: 0, host: '127.0.0.1', adminEndpoint: false });
  return {
    url: server.url,
    slug,
    close: async () => {
      await server.close(1000);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
