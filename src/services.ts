import type { Logger } from 'pino';
import { AuditLog, type AuditLogOptions } from './audit/audit-log.js';
import type { Config } from './config/config.js';
import { openDatabase, targetFromConfig, type Database, type Db } from './db/open-database.js';
import { cleanupExpired } from './jobs/cleanup-expired.js';
import { deleteOldSsoTraces } from './sso/traces/trace-retention.js';
import { RateLimiter } from './http/rate-limit.js';
import { deliverAuditSinks } from './audit/sinks/deliver-sinks.js';
import { auditSinkStats } from './audit/sinks/manage-sinks.js';
import { syncDueDirectories } from './connectors/run-directory-sync.js';
import { reconcileDueTenants } from './connectors/reconcile/run-reconcile.js';
import { checkGoogleLicenses } from './onboarding/google-onboarding.js';
import { JobRunner } from './jobs/job-runner.js';
import { CircuitBreakers, defaultBreakerOptions } from './lib/circuit-breaker.js';
import { systemClock, type Clock } from './lib/clock.js';
import { Metrics } from './metrics/metrics.js';
import { createLogger } from './lib/logger.js';
import { upstreamHealth } from './tools/upstream-health.js';
import { EventBus } from './revocation/event-bus.js';
import { AccountCache } from './oauth/account-cache.js';
import { RateView } from './http/rate-view.js';
import { RevocationHub } from './revocation/revocation-hub.js';
import { SessionStore } from './sessions/session-store.js';
import { TenantDirectory } from './tenants/tenant-directory.js';
import { ScimTokenCache } from './scim/scim-token-cache.js';
import { refreshSamlMetadata } from './sso/saml/refresh-metadata.js';
import { UpstreamPool } from './tools/upstream-pool.js';
import { Egress } from './http/egress.js';
import { upstreamListChanges } from './tools/upstream-list-changes.js';
import { deleteExpiredConnectStates } from './upstream-auth/cleanup-connect-states.js';
import { upstreamConnectionsRevocationStore } from './upstream-auth/disconnect-upstream.js';
import { UpstreamTokens } from './upstream-auth/upstream-tokens.js';
import type { AccessTokenVerifier } from './oauth/access-token.js';
import { buildProvider } from './oauth/build-provider.js';
import { ProviderCache } from './oauth/provider-cache.js';
import { oauthRevocationStore } from './oauth/revoke-grants.js';
import { JwtAccessTokenVerifier } from './oauth/verify-access-token.js';
import { EnvKeyring, loadOrCreateDevMasterKey, type MasterKeySource } from './vault/master-keys.js';
import { Vault } from './vault/vault.js';

/** Everything a request handler or CLI command may use, built once per process (the composition root). */
export interface Services {
  readonly config: Config;
  readonly database: Database;
  readonly db: Db;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly masterKeys: MasterKeySource;
  readonly vault: Vault;
  readonly audit: AuditLog;
  readonly bus: EventBus;
  readonly revocation: RevocationHub;
  readonly sessions: SessionStore;
  readonly jobs: JobRunner;
  /** Slug → active tenant, cached and dropped on `tenant.changed` (src/tenants/tenant-directory.ts). */
  readonly tenants: TenantDirectory;
  /** SCIM bearer tokens that verified, dropped on `scim-token.revoked` (src/scim/scim-token-cache.ts). */
  readonly scimTokens: ScimTokenCache;
  /** Open MCP sessions to upstream servers, reused across tool calls (src/tools). */
  readonly upstreams: UpstreamPool;
  /** Where connections to destinations tenants choose (upstream MCP servers, their authorization servers) may go. */
  readonly egress: Egress;
  /** Verifies access tokens of the tenants' authorization servers (MCP endpoint, SCIM). */
  readonly accessTokens: AccessTokenVerifier;
  /** One oidc-provider per tenant, built lazily, bounded, rebuilt on 'tenant.changed' (src/oauth). */
  readonly oauthProviders: ProviderCache;
  /** What this node knows of rate-limit counters, told by the bus when one reaches its limit (src/http/rate-view.ts). */
  readonly rateView: RateView;
  /** Active users behind token requests, dropped on 'user.changed' / 'user.revoked' (src/oauth/account-cache.ts). */
  readonly accounts: AccountCache;
  /** Circuit breakers around IdP fetches (OIDC discovery, SAML metadata URLs), keyed by issuer / URL. */
  readonly idpFetches: CircuitBreakers;
  /** Prometheus metrics of this process (src/metrics), served on METRICS_PORT. */
  readonly metrics: Metrics;
}

export interface ServiceOptions {
  clock?: Clock;
  logger?: Logger;
  /** An already-open database (tests); otherwise opened from the configuration. */
  database?: Database;
  /** Audit batching overrides (tests inject the linger timer). */
  audit?: Omit<AuditLogOptions, 'logger'>;
}

export async function createServices(config: Config, opts: ServiceOptions = {}): Promise<Services> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const clock = opts.clock ?? systemClock;
  const masterKeys = new EnvKeyring(
    config.masterKey ??
      loadOrCreateDevMasterKey(config.dataDir, (file) =>
        logger.warn({ file }, 'MASTER_KEY is not set: generated a development master key (set MASTER_KEY in production)'),
      ),
  );
  const database = opts.database ?? (await openDatabase(targetFromConfig(config)));
  const db = database.prisma;
  const audit = new AuditLog(db, clock, { logger, ...opts.audit });
  const bus = new EventBus(database.raw, logger);
  const tenants = new TenantDirectory(db, bus);
  const scimTokens = new ScimTokenCache(clock, bus);
  const revocation = new RevocationHub(audit, bus, clock, logger);
  const sessions = new SessionStore(clock);
  const vault = new Vault(masterKeys);
  revocation.register(sessions);
  // Before the vault's store: it needs the tokens to revoke them at the upstream (RFC 7009) once they are gone here.
  revocation.register(upstreamConnectionsRevocationStore(() => s));
  revocation.register({ name: 'vault', revokeUser: (t, userId) => vault.removeForUser(t, userId) });
  const jobs = new JobRunner(db, clock, logger, bus.nodeId);
  jobs.add({ name: 'cleanup-expired', everyMs: 10 * 60_000, run: () => cleanupExpired(db, clock) });
  // SAML IdP metadata URLs (certificate rollover); `s` is complete by the time a job runs.
  jobs.add({ name: 'saml-metadata-refresh', everyMs: 6 * 3_600_000, run: () => refreshSamlMetadata(s) });
  jobs.add({ name: 'rate-limit-sweep', everyMs: 10 * 60_000, run: () => new RateLimiter(db, clock).sweep() });
  jobs.add({ name: 'sso-trace-retention', everyMs: 3_600_000, run: () => deleteOldSsoTraces(db, clock, config.ssoTraceRetentionDays) });
  // Audit events to the tenants' SIEM webhooks (src/audit/sinks): one node at a time, resumed from each sink's cursor.
  jobs.add({ name: 'audit-sinks', everyMs: 5_000, run: () => deliverAuditSinks(s) });
  // Google directory sync for tenants provisioned by it; each tenant's own interval decides (src/connectors).
  jobs.add({ name: 'directory-sync', everyMs: 60_000, run: () => syncDueDirectories(s) });
  // Reconciliation of SCIM-provisioned tenants with their directory connector (default hourly each; docs/reconciliation.md).
  jobs.add({ name: 'reconcile', everyMs: 5 * 60_000, run: () => reconcileDueTenants(s) });
  // Abandoned per-user upstream connect flows (src/upstream-auth).
  jobs.add({ name: 'upstream-connect-states', everyMs: 10 * 60_000, run: () => deleteExpiredConnectStates(db, clock) });
  // Google Workspace Marketplace: a domain that uninstalled the app or lost its licence is disabled (src/onboarding).
  jobs.add({ name: 'google-license-check', everyMs: 6 * 3_600_000, run: () => checkGoogleLicenses(s) });
  const egress = new Egress(config.outboundAllowedNetworks);
  const upstreams = new UpstreamPool(vault, new CircuitBreakers(clock, defaultBreakerOptions, () => metrics.circuitOpened('upstream')), egress);
  const idpFetches = new CircuitBreakers(clock, defaultBreakerOptions, () => metrics.circuitOpened('idp'));
  const metrics = new Metrics({
    busListening: () => bus.listening,
    auditBacklog: () => audit.pendingBackgroundEvents,
    auditFailed: () => audit.failedBackgroundEvents,
    dbPool: () => database.poolStats?.(),
    openCircuits: () => upstreams.breakers.openCount + idpFetches.openCount,
    auditSinks: () => auditSinkStats(db),
  });
  revocation.register(oauthRevocationStore({ bus }));
  jobs.add({ name: 'revocation-retry', everyMs: 15_000, run: () => revocation.completeAbandoned(db) });
  const accessTokens = new JwtAccessTokenVerifier({ config, vault, bus, clock }, bus);
  // Providers are built on first use, when the composition root below is complete.
  const oauthProviders = new ProviderCache((t) => buildProvider(s, t), bus);
  const accounts = new AccountCache(bus);
  const rateView = new RateView(bus);
  const s: Services = { config, database, db, logger, clock, masterKeys, vault, audit, bus, revocation, sessions, jobs, tenants, scimTokens, upstreams, egress, accessTokens, oauthProviders, accounts, rateView, idpFetches, metrics };
  // Per-user upstream credentials (src/upstream-auth); static upstreams never reach them.
  upstreams.credentials = new UpstreamTokens(s);
  upstreams.health = upstreamHealth(clock, logger);
  // Upstreams' list_changed: tools re-listed (poisoning guard), prompts/resources announced to clients.
  upstreams.listChanged = (t, up, userId, kind) => upstreamListChanges(s).announced(t, up, userId, kind);
  return s;
}
