import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Vault } from '../vault/vault.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { connectUpstream } from './upstream-client.js';

export interface UpstreamRef {
  id: string;
  url: string;
  headersSecretId: string | null;
  updatedAt: Date;
}

interface Entry {
  version: string;
  client: Promise<Client>;
}

/**
 * One open MCP session per upstream and node, reused by every call (an initialize handshake per call would double
 * the latency). The entry is rebuilt when the upstream row changed (URL or headers, seen through `updatedAt`, so a
 * change made by the CLI on another node is picked up on the next call) or after a transport failure.
 */
export class UpstreamPool {
  /** Upper bound for one upstream tools/call; the client's own cancellation ends it sooner. */
  callTimeoutMs = 60_000;
  connectTimeoutMs = 10_000;
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly vault: Vault) {}

  async callTool(t: TenantCtx, up: UpstreamRef, name: string, args: Record<string, unknown> | undefined, signal: AbortSignal): Promise<CallToolResult> {
    const attempt = async () => {
      const client = await this.#client(t, up);
      return (await client.callTool({ name, arguments: args }, undefined, { signal, timeout: this.callTimeoutMs })) as CallToolResult;
    };
    try {
      return await attempt();
    } catch (err) {
      // Only failures that mean the upstream never ran the call are retried (its session expired: 404), so a tool
      // with side effects is never run twice. Other transport failures drop the session for the next call.
      if (err instanceof StreamableHTTPError && err.code === 404) {
        this.drop(up.id);
        return attempt();
      }
      if (!isProtocolError(err)) this.drop(up.id);
      throw err;
    }
  }

  drop(upstreamId: string): void {
    const entry = this.#entries.get(upstreamId);
    this.#entries.delete(upstreamId);
    void entry?.client.then((c) => c.close()).catch(() => undefined);
  }

  async close(): Promise<void> {
    for (const id of [...this.#entries.keys()]) this.drop(id);
  }

  #client(t: TenantCtx, up: UpstreamRef): Promise<Client> {
    const version = `${up.url}|${up.headersSecretId ?? ''}|${up.updatedAt.getTime()}`;
    const entry = this.#entries.get(up.id);
    if (entry && entry.version === version) return entry.client;
    if (entry) this.drop(up.id);
    const client = (async () => {
      const headers = up.headersSecretId ? (JSON.parse(await this.vault.getString(t, up.headersSecretId)) as Record<string, string>) : {};
      return connectUpstream(up.url, headers, this.connectTimeoutMs);
    })();
    this.#entries.set(up.id, { version, client });
    // A failed connection must not stay cached.
    client.catch(() => {
      if (this.#entries.get(up.id)?.client === client) this.#entries.delete(up.id);
    });
    return client;
  }
}

/** A JSON-RPC error answered by the upstream (it is alive; the session stays usable). */
function isProtocolError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'number' && !(err instanceof StreamableHTTPError);
}
