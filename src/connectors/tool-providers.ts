import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { Services } from '../services.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { findConnector } from './connector-store.js';
import { toolError, type ConnectorKind, type ConnectorTool, type ToolProvider } from './connector-tool.js';
import { googleToolProvider } from './google/google-tools.js';
import { microsoftToolProvider } from './microsoft/microsoft-tools.js';

/** The built-in tool providers, one per connector kind (Microsoft and Okta join here). */
export const toolProviders: readonly ToolProvider[] = [googleToolProvider, microsoftToolProvider];

const byName = new Map<string, { kind: ConnectorKind; tool: ConnectorTool }>(
  toolProviders.flatMap((p) => p.tools.map((tool) => [tool.name, { kind: p.kind, tool }] as const)),
);

export const connectorTool = (name: string): ConnectorTool | null => byName.get(name)?.tool ?? null;

export function toolProvider(kind: ConnectorKind): ToolProvider {
  const p = toolProviders.find((x) => x.kind === kind);
  if (!p) throw new Error(`No tool provider for ${kind}`);
  return p;
}

const validator = new AjvJsonSchemaValidator();
const validators = new Map<string, ReturnType<AjvJsonSchemaValidator['getValidator']>>();

/**
 * Runs a connector tool the caller may call (callTool has checked approval and grants): the tenant must still have
 * the connector, and the arguments must match the tool's input schema — the MCP server does not check them, and these
 * tools act on real mailboxes.
 */
export async function runConnectorTool(
  s: Services,
  t: TenantCtx,
  ctx: { userId: string; clientId: string; signal: AbortSignal },
  name: string,
  args: Record<string, unknown> | undefined,
): Promise<CallToolResult> {
  const found = byName.get(name);
  if (!found) return toolError('This tool is not available.');
  const connector = await findConnector(t, found.kind);
  if (!connector) return toolError(`This organisation's ${found.kind} connector was removed.`);
  let check = validators.get(name);
  if (!check) validators.set(name, (check = validator.getValidator(found.tool.inputSchema)));
  const input = args ?? {};
  const valid = check(input);
  if (!valid.valid) return toolError(`Invalid arguments: ${(valid.errorMessage ?? 'do not match the input schema').slice(0, 300)}`);
  return found.tool.run({ s, t, connector, userId: ctx.userId, clientId: ctx.clientId, signal: ctx.signal }, input);
}
