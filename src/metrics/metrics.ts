import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the gauges read when Prometheus scrapes (nothing is sampled between scrapes). */
export interface MetricSources {
  busListening(): boolean;
  auditBacklog(): number;
  auditFailed(): number;
  dbPool(): { total: number; idle: number; waiting: number; max: number } | undefined;
  openCircuits(): number;
  /** SIEM sinks by status, and the most events any active sink is behind (one query per scrape). */
  auditSinks?(): Promise<{ active: number; deadLetter: number; maxLagEvents: number }>;
}

/** Route families: a bounded label set (never a raw path, which carries tenant slugs and ids). */
export const routeFamilies = ['mcp', 'scim', 'oauth', 'sso', 'api', 'pages', 'health', 'other'] as const;
export type RouteFamily = (typeof routeFamilies)[number];

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export const toolOutcomes = ['success', 'tool_error', 'denied', 'timeout', 'cancelled', 'upstream_error', 'unreachable', 'internal', 'auth_required', 'invalid_arguments'] as const;
export type ToolOutcome = (typeof toolOutcomes)[number];

/** The family of a request path (`/t/{slug}/scim/v2/Users` → scim): string tests only, no allocation. */
export function routeFamily(url: string): RouteFamily {
  if (url.startsWith('/t/')) {
    const rest = url.indexOf('/', 3);
    if (rest < 0) return 'other';
    if (url.startsWith('/mcp', rest)) return 'mcp';
    if (url.startsWith('/scim/', rest)) return 'scim';
    if (url.startsWith('/api/', rest)) return 'api';
    if (url.startsWith('/oauth', rest) || url.startsWith('/.well-known', rest) || url.startsWith('/token', rest)) return 'oauth';
    if (url.startsWith('/saml', rest) || url.startsWith('/oidc', rest) || url.startsWith('/login', rest) || url.startsWith('/logout', rest)) return 'sso';
    return 'pages';
  }
  if (url === '/healthz' || url === '/readyz') return 'health';
  if (url.startsWith('/.well-known') || url.startsWith('/oauth')) return 'oauth';
  if (url.startsWith('/oidc')) return 'sso';
  return 'other';
}

type Observer = { observe(v: number): void };
type Incrementer = { inc(): void };

/**
 * Prometheus metrics of one process (prom-client, one registry per Services so tests can run several apps).
 * Hot paths use label children bound in advance (`http`, `toolCall`): recording is an array or Map lookup, one
 * histogram observe and, for tool calls, one counter increment — no label objects built per request (docs/mcp.md).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #http: Observer[][];
  readonly #toolCalls: Counter<'upstream' | 'outcome'>;
  readonly #toolLatency: Histogram<'upstream'>;
  readonly #toolChildren = new Map<string, { outcomes: Incrementer[]; latency: Observer }>();
  readonly #scim: Counter<'tenant' | 'resource' | 'method' | 'result'>;
  readonly #tokens: Counter<'grant_type'>;
  readonly #circuitOpened: Counter<'kind'>;

  constructor(sources: MetricSources, opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) {
      // process CPU/memory/handles, GC, and event-loop lag (nodejs_eventloop_lag_seconds and its percentiles)
      collectDefaultMetrics({ register: this.registry, prefix: 'sso_bridge_' });
    }
    const http = new Histogram({
      name: 'sso_bridge_http_request_duration_seconds',
      help: 'HTTP requests by route family and status class (the _count series is the request rate)',
      labelNames: ['family', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#http = routeFamilies.map((family) => CLASSES.map((status) => http.labels(family, status)));
    this.#toolCalls = new Counter({ name: 'sso_bridge_tool_calls_total', help: 'MCP tools/call by upstream and outcome', labelNames: ['upstream', 'outcome'] as const, registers });
    this.#toolLatency = new Histogram({
      name: 'sso_bridge_tool_call_duration_seconds',
      help: 'MCP tools/call duration by upstream (built-in tools: upstream="builtin")',
      labelNames: ['upstream'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.#scim = new Counter({
      name: 'sso_bridge_scim_operations_total',
      help: 'SCIM requests by tenant (slug), resource, method and result',
      labelNames: ['tenant', 'resource', 'method', 'result'] as const,
      registers,
    });
    this.#tokens = new Counter({ name: 'sso_bridge_tokens_issued_total', help: 'OAuth token responses by grant type', labelNames: ['grant_type'] as const, registers });
    this.#circuitOpened = new Counter({ name: 'sso_bridge_circuit_opened_total', help: 'Circuit breakers opened, by kind (upstream, idp)', labelNames: ['kind'] as const, registers });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge('sso_bridge_event_bus_listening', '1 while this node listens to the cache-invalidation bus, else 0', () => (sources.busListening() ? 1 : 0));
    gauge('sso_bridge_audit_backlog_events', 'Audit events accepted but not yet written', () => sources.auditBacklog());
    gauge('sso_bridge_audit_failed_events', 'Background audit events the database refused while it was up (should stay 0)', () => sources.auditFailed());
    gauge('sso_bridge_circuits_open', 'Circuit breakers currently open (upstream MCP servers, IdP fetches)', () => sources.openCircuits());
    const pool = new Gauge({
      name: 'sso_bridge_db_pool_connections',
      help: 'PostgreSQL pool connections by state (total, idle, waiting clients, max); absent on the embedded database',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const p = sources.dbPool();
        if (!p) return;
        for (const [state, v] of Object.entries(p)) this.set({ state }, v);
      },
    });
    void pool;
    if (sources.auditSinks) {
      const read = sources.auditSinks;
      let pending: Promise<{ active: number; deadLetter: number; maxLagEvents: number } | undefined> | undefined;
      // Both gauges are collected in one scrape: one query serves them. A database that does not answer must not fail
      // the scrape (the bus and pool gauges matter most then): the gauges keep their last values.
      const once = () => (pending ??= read().catch(() => undefined).finally(() => setImmediate(() => (pending = undefined))));
      new Gauge({
        name: 'sso_bridge_audit_sinks',
        help: 'SIEM sinks (webhook, syslog) by status: active, dead-letter (nothing is sent until `audit sink retry`)',
        labelNames: ['status'] as const,
        registers,
        async collect() {
          const r = await once();
          if (!r) return;
          this.set({ status: 'active' }, r.active);
          this.set({ status: 'dead-letter' }, r.deadLetter);
        },
      });
      new Gauge({
        name: 'sso_bridge_audit_sink_lag_events',
        help: 'Events the furthest-behind SIEM sink has not had acknowledged yet (all sinks, dead letters included)',
        registers,
        async collect() {
          const r = await once();
          if (r) this.set(r.maxLagEvents);
        },
      });
    }
  }

  /** One finished HTTP request. */
  http(family: RouteFamily, status: number, seconds: number): void {
    const cls = Math.min(4, Math.max(0, Math.floor(status / 100) - 1));
    this.#http[routeFamilies.indexOf(family)]![cls]!.observe(seconds);
  }

  /**
   * One tools/call; `upstreamKey` is the upstream id (or "builtin"), `nameOf(of)` its label, read once per key (a
   * function and its argument rather than a closure: no allocation per call).
   */
  toolCall<T>(upstreamKey: string, nameOf: (of: T) => string, of: T, outcome: ToolOutcome, seconds: number): void {
    let c = this.#toolChildren.get(upstreamKey);
    if (!c) {
      const name = nameOf(of);
      c = { outcomes: toolOutcomes.map((o) => this.#toolCalls.labels(name, o)), latency: this.#toolLatency.labels(name) };
      this.#toolChildren.set(upstreamKey, c);
    }
    c.outcomes[toolOutcomes.indexOf(outcome)]!.inc();
    c.latency.observe(seconds);
  }

  scim(tenant: string, resource: string, method: string, status: number): void {
    const result = status < 400 ? 'success' : status < 500 ? 'client_error' : 'server_error';
    this.#scim.labels(tenant, resource, method, result).inc();
  }

  tokenIssued(grantType: string): void {
    this.#tokens.labels(grantType || 'unknown').inc();
  }

  circuitOpened(kind: 'upstream' | 'idp'): void {
    this.#circuitOpened.labels(kind).inc();
  }
}
