import path from 'node:path';
import { z } from 'zod';
import { parseNetworks } from '../http/egress.js';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const EnvSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    PUBLIC_URL: z.string().optional(),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL (unset it to use the embedded database)')
      .optional(),
    DATA_DIR: z.string().min(1).default('./data'),
    MASTER_KEY: z.string().min(1).optional(),
    LOG_LEVEL: z.enum(logLevels).default('info'),
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    /** Prometheus /metrics on its own listener (off when unset; never on the public port). */
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    METRICS_HOST: z.string().min(1).default('0.0.0.0'),
    /** Optional bearer token the metrics listener requires (scrapers send `Authorization: Bearer …`). */
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    /** OpenTelemetry tracing over OTLP/HTTP (off when unset). */
    OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
    /** Test only: host[:port] list whose CIMD documents may be fetched from special-use addresses (refused in production). */
    DANGEROUSLY_ALLOW_CIMD_HOSTS: z.string().optional(),
    /** Test only: PEM CA trusted for DANGEROUSLY_ALLOW_CIMD_HOSTS (refused in production). */
    DANGEROUSLY_CIMD_CA_FILE: z.string().optional(),
    /** Test only: host:port list a connector (Okta org URL) may reach on special-use addresses (refused in production). */
    DANGEROUSLY_ALLOW_CONNECTOR_HOSTS: z.string().optional(),
    /** Test only: PEM CA trusted by connector API calls besides the system roots (refused in production). */
    DANGEROUSLY_CONNECTOR_CA_FILE: z.string().optional(),
    /**
     * Special-use networks (CIDR, comma-separated) that upstream MCP servers and their authorization servers may be
     * reached on: a deployment hosting upstreams on its private network. Everything else private, loopback,
     * link-local… is refused (src/http/egress.ts). Empty by default.
     */
    OUTBOUND_ALLOWED_NETWORKS: z.string().optional(),
    /** Days a failed-login trace is kept (issue 8 §6). */
    SSO_TRACE_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
    /** Who may create a tenant (docs/catalogs/README.md): anyone (`open`), operators only (`invite-only`), or anyone, held for approval. */
    SIGNUP_POLICY: z.enum(['open', 'invite-only', 'approval']).default('invite-only'),
    /** The deployment's multi-tenant Entra app registration (manifests/dist/entra-gallery): admin consent and sign-in. */
    ENTRA_CLIENT_ID: z.string().regex(/^[0-9a-f-]{36}$/i, 'must be the Application (client) ID GUID').optional(),
    ENTRA_CLIENT_SECRET: z.string().min(1).optional(),
    /** Microsoft identity platform host (national clouds; tests point it at a local fake). */
    ENTRA_AUTHORITY_HOST: z.url().default('https://login.microsoftonline.com'),
    /** The deployment's Google OAuth web client (Marketplace sign-in of the installing domain's admins). */
    GOOGLE_OAUTH_CLIENT_ID: z.string().min(1).optional(),
    GOOGLE_OAUTH_CLIENT_SECRET: z.string().min(1).optional(),
    /** Google's OIDC issuer (tests point it at a local fake). */
    GOOGLE_ISSUER: z.url().default('https://accounts.google.com'),
    /** The Marketplace app id (Cloud project number) for the Apps Marketplace license check. */
    GOOGLE_MARKETPLACE_APP_ID: z.string().regex(/^\d{1,20}$/).optional(),
    /** Google API root for the license and Directory calls (Private Service Connect; tests). */
    GOOGLE_API_ROOT: z.url().optional(),
  })
  .transform((env, ctx) => {
    const outboundAllowedNetworks = (env.OUTBOUND_ALLOWED_NETWORKS ?? '').split(',').map((n) => n.trim()).filter(Boolean);
    try {
      parseNetworks(outboundAllowedNetworks);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['OUTBOUND_ALLOWED_NETWORKS'], message: (err as Error).message });
    }
    const publicUrl = (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
    let parsed: URL | undefined;
    try {
      parsed = new URL(publicUrl);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['PUBLIC_URL'], message: 'must be an absolute http(s) URL' });
      return z.NEVER;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', path: ['PUBLIC_URL'], message: 'must use http or https' });
    }
    if (parsed.search || parsed.hash) {
      ctx.addIssue({ code: 'custom', path: ['PUBLIC_URL'], message: 'must not carry a query or fragment' });
    }
    return {
      port: env.PORT,
      publicUrl,
      databaseUrl: env.DATABASE_URL,
      dataDir: path.resolve(env.DATA_DIR),
      masterKey: env.MASTER_KEY,
      logLevel: env.LOG_LEVEL,
      nodeEnv: env.NODE_ENV,
      dangerouslyAllowCimdHosts: (env.DANGEROUSLY_ALLOW_CIMD_HOSTS ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
      dangerouslyCimdCaFile: env.DANGEROUSLY_CIMD_CA_FILE,
      dangerouslyAllowConnectorHosts: (env.DANGEROUSLY_ALLOW_CONNECTOR_HOSTS ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
      dangerouslyConnectorCaFile: env.DANGEROUSLY_CONNECTOR_CA_FILE,
      outboundAllowedNetworks,
      ssoTraceRetentionDays: env.SSO_TRACE_RETENTION_DAYS,
      metricsPort: env.METRICS_PORT,
      metricsHost: env.METRICS_HOST,
      metricsToken: env.METRICS_TOKEN,
      otelEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
      signupPolicy: env.SIGNUP_POLICY,
      entra: { clientId: env.ENTRA_CLIENT_ID?.toLowerCase(), clientSecret: env.ENTRA_CLIENT_SECRET, authorityHost: env.ENTRA_AUTHORITY_HOST.replace(/\/+$/, '') },
      google: {
        clientId: env.GOOGLE_OAUTH_CLIENT_ID,
        clientSecret: env.GOOGLE_OAUTH_CLIENT_SECRET,
        issuer: env.GOOGLE_ISSUER.replace(/\/+$/, ''),
        marketplaceAppId: env.GOOGLE_MARKETPLACE_APP_ID,
        apiRoot: env.GOOGLE_API_ROOT?.replace(/\/*$/, '/'),
      },
    };
  });

export type Config = z.output<typeof EnvSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the environment once, at start-up. Throws {@link ConfigError} listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset: `FOO= npm start` should behave like no FOO at all.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = EnvSchema.safeParse(cleaned);
  const problems = result.success ? [] : result.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`);
  // Checked on the raw values so they are reported together with any other problem, not after it is fixed.
  problems.push(...productionProblems(cleaned));
  if (!result.success || problems.length) throw new ConfigError(problems);
  return result.data;
}

function productionProblems(env: Record<string, string | undefined>): string[] {
  if (env.NODE_ENV !== 'production') return [];
  const problems: string[] = [];
  if (!env.MASTER_KEY) problems.push('MASTER_KEY: is required when NODE_ENV=production');
  if (!env.PUBLIC_URL?.startsWith('https://')) problems.push('PUBLIC_URL: must be https when NODE_ENV=production');
  // Test-only switches that weaken the CIMD fetch guard (src/oauth/cimd-fetch.ts) or the connectors' outbound guard
  // (src/connectors/okta/okta-http.ts) never run in production.
  for (const name of ['DANGEROUSLY_ALLOW_CIMD_HOSTS', 'DANGEROUSLY_CIMD_CA_FILE', 'DANGEROUSLY_ALLOW_CONNECTOR_HOSTS', 'DANGEROUSLY_CONNECTOR_CA_FILE']) {
    if (env[name]) problems.push(`${name}: is a test-only setting, refused when NODE_ENV=production`);
  }
  return problems;
}
