import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { RawConnection } from '../db/open-database.js';

/** Cache-invalidation events shared by every node serving the same database. */
export type BusEvent =
  | { type: 'user.revoked'; tenantId: string; userId: string }
  | { type: 'user.changed'; tenantId: string; userId: string }
  /** One group change set (src/scim): the users whose memberships changed, or null = too many to list, any user. */
  | { type: 'members.changed'; tenantId: string; userIds: string[] | null }
  | { type: 'tenant.changed'; tenantId: string }
  | { type: 'scim-token.revoked'; tenantId: string; tokenId: string }
  | { type: 'tools.changed'; tenantId: string }
  | { type: 'grant.revoked'; tenantId: string; grantId: string }
  /** An MCP client cancelled an in-flight tools/call that may be running on another node (src/mcp). */
  | { type: 'mcp.cancelled'; tenantId: string; callKey: string };

type Listener = (event: BusEvent) => void;

const CHANNEL = 'sso_bridge_events';

/**
 * Local listeners hear an event at once; other nodes hear it through PostgreSQL LISTEN/NOTIFY (no extra
 * infrastructure; delivery is typically a few milliseconds). Events from this node are not delivered twice.
 */
export class EventBus {
  readonly nodeId = randomUUID();
  readonly #listeners = new Set<Listener>();
  #unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly raw: RawConnection,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.#unlisten = await this.raw.listen(CHANNEL, (payload) => {
      try {
        const { origin, event } = JSON.parse(payload) as { origin: string; event: BusEvent };
        if (origin !== this.nodeId) this.#deliver(event);
      } catch (err) {
        this.logger.warn({ err }, 'ignored a malformed bus event');
      }
    });
  }

  async stop(): Promise<void> {
    await this.#unlisten?.();
    this.#unlisten = undefined;
  }

  /** Whether this node currently listens for other nodes' events (reported by /metrics). */
  get listening(): boolean {
    return this.#unlisten !== undefined;
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async publish(event: BusEvent): Promise<void> {
    this.#deliver(event);
    // NOTIFY payloads are limited to 8000 bytes; events are ids only.
    await this.raw.notify(CHANNEL, JSON.stringify({ origin: this.nodeId, event })).catch((err: unknown) => {
      this.logger.error({ err }, 'could not notify other nodes');
    });
  }

  #deliver(event: BusEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error({ err, event: event.type }, 'bus listener failed');
      }
    }
  }
}
