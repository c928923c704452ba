import { UsageError } from '../cli/parse-args.js';
import type { Command, OptionValue } from '../cli/command-table.js';

const str = (v: OptionValue, fallback: string) => (typeof v === 'string' && v !== '' ? v : fallback);
const configOption = { type: 'string', description: 'catalog config (default manifests/catalog.config.json)' } as const;
const noDb = async () => {
  throw new Error('runs locally');
};

/** `manifests build|check` (docs/catalogs/): no database of the deployment is opened. */
export const manifestCommands: Command[] = [
  {
    name: 'manifests build',
    summary: 'write the Okta OIN, Entra gallery and Google Workspace Marketplace artifacts for PUBLIC_URL',
    options: { out: { type: 'string', description: 'output folder (default manifests/dist)' }, config: configOption },
    forwardable: false,
    run: noDb,
    // Loaded on use: the check pulls in the whole HTTP application, which other commands never need.
    local: async (config, o) =>
      (await import('./build-manifests.js')).buildManifests({ configFile: str(o.config, 'manifests/catalog.config.json'), outDir: str(o.out, 'manifests/dist'), base: config.publicUrl, production: config.nodeEnv === 'production' }),
  },
  {
    name: 'manifests check',
    summary: 'validate the artifacts (schemas, catalog rules, up to date) and request every URL in them from the server',
    options: {
      dir: { type: 'string', description: 'artifacts folder (default manifests/dist)' },
      config: configOption,
      'base-url': { type: 'string', description: 'a running server to request (default: one started in-process on a throwaway database)' },
      tenant: { type: 'string', description: 'with --base-url: an existing tenant slug to request tenant URLs with' },
    },
    forwardable: false,
    run: noDb,
    local: async (config, o) => {
      const baseUrl = typeof o['base-url'] === 'string' ? o['base-url'] : undefined;
      if (baseUrl && typeof o.tenant !== 'string') throw new UsageError('--base-url needs --tenant SLUG (an existing tenant of that server)');
      const { checkManifests } = await import('./check-manifests.js');
      return checkManifests({
        configFile: str(o.config, 'manifests/catalog.config.json'),
        dir: str(o.dir, 'manifests/dist'),
        base: config.publicUrl,
        production: config.nodeEnv === 'production',
        config,
        ...(baseUrl && { target: { url: baseUrl, slug: String(o.tenant) } }),
      });
    },
  },
];
