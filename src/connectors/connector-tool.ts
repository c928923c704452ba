import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import type { ConnectorRow } from './connector-store.js';

export type ConnectorKind = 'google' | 'microsoft' | 'okta';
export const CONNECTOR_KINDS: readonly ConnectorKind[] = ['google', 'microsoft', 'okta'];

/** What a connector tool learns about one call: who calls, through which connector, cancellable by the client. */
export interface ConnectorToolCall {
  s: Services;
  t: TenantCtx;
  connector: ConnectorRow;
  userId: string;
  clientId: string;
  signal: AbortSignal;
}

/** MCP tool annotations (2025-11-25 `ToolAnnotations`), all four set explicitly: clients rely on them for prompts. */
export interface ToolHints {
  title: string;
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/**
 * A tool the gateway implements against a SaaS API on the user's behalf. Its row in the Tool table (kind
 * 'connector') is created unapproved when the connector is added, so it is approved, granted per group, listed and
 * audited exactly like an upstream tool; only the call itself runs here instead of on an upstream.
 */
export interface ConnectorTool {
  /** Gateway name, `{kind}__{snake_case}` (contract.md). */
  name: string;
  description: string;
  inputSchema: Record<string, unknown> & { type: 'object' };
  outputSchema: Record<string, unknown> & { type: 'object' };
  annotations: ToolHints;
  /** Arguments were validated against `inputSchema` before this runs. */
  run(call: ConnectorToolCall, args: Record<string, unknown>): Promise<CallToolResult>;
}

/** The tools of one connector kind (Google now; Microsoft and Okta add theirs to tool-providers.ts). */
export interface ToolProvider {
  kind: ConnectorKind;
  tools: readonly ConnectorTool[];
}

/** A tool error result (MCP "isError"): the model sees the text, nothing internal. */
export const toolError = (text: string): CallToolResult => ({ isError: true, content: [{ type: 'text', text }] });

/** A successful result: a concise text for the model plus the same data as `structuredContent` (the outputSchema). */
export const toolResult = (text: string, data: Record<string, unknown>): CallToolResult => ({
  content: [{ type: 'text', text }],
  structuredContent: data,
});
