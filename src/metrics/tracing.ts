import type { ServerResponse } from 'node:http';
import { SpanStatusCode, context, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { Logger } from 'pino';

/**
 * The tracer the code uses everywhere. Without a registered provider (OTEL_EXPORTER_OTLP_ENDPOINT unset) it is the
 * API's no-op tracer: spans are non-recording and nothing is exported or buffered.
 */
export const tracer = trace.getTracer('sso-bridge');

/** True while a provider is registered: hot paths (MCP tools/call) skip even no-op spans otherwise. */
export let tracingOn = false;

/** Runs `fn` in an active span (children nest under it); exceptions are recorded and rethrown. */
export function traced<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}

export interface Tracing {
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry tracing when an OTLP endpoint is configured: the SDK is loaded only then (dynamic import), with
 * an OTLP/HTTP exporter to `<endpoint>/v1/traces`, batched, and an AsyncLocalStorage context manager so spans nest
 * across awaits. `shutdown` flushes what is pending and unregisters the provider.
 */
export async function startTracing(endpoint: string | undefined, logger: Logger): Promise<Tracing | undefined> {
  if (!endpoint) return undefined;
  const [{ BasicTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, { AsyncLocalStorageContextManager }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/context-async-hooks'),
  ]);
  const exporter = new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME ?? 'sso-bridge' }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  tracingOn = true;
  logger.info({ endpoint }, 'OpenTelemetry tracing enabled (OTLP/HTTP)');
  return {
    async shutdown() {
      tracingOn = false;
      await provider.forceFlush().catch((err: unknown) => logger.warn({ err }, 'could not export pending spans'));
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}

/**
 * A server span around one HTTP request of the SSO, OAuth (token) and SCIM families: route handlers run inside its
 * context, so their own spans nest under it. Ends when the response finishes.
 */
export function traceRequest(family: string, method: string | undefined, res: ServerResponse, handle: () => void): void {
  const span = tracer.startSpan(`${family} ${method ?? ''}`.trim(), { attributes: { 'http.request.method': method ?? '', 'sso_bridge.route_family': family } });
  res.once('finish', () => {
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  context.with(trace.setSpan(context.active(), span), handle);
}
