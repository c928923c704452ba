import type { LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import type { EventBus } from '../revocation/event-bus.js';

/** MCP "Logging": levels of RFC 5424 §6.2.1, least severe first. */
const SEVERITY: readonly LoggingLevel[] = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];
/** Sessions whose level a node remembers (oldest forgotten first: they then get every message again, as before any setLevel). */
const MAX_SESSIONS = 10_000;

/**
 * The `logging/setLevel` of each client session. The transport is stateless (decision 0008) and the level arrives in
 * a request of its own, so it travels on the bus (`mcp.log-level`) to every node, which keeps it in memory for the
 * session; relayed upstream log messages (`notifications/message` of the session's calls) below it are dropped
 * (MCP "Logging": the server SHOULD send only messages at that level or more severe). It is not forwarded upstream:
 * a `static` upstream's session is shared by every user, and one client's level must not silence another's logs.
 * A node that never heard it (started later, or forgot it) relays everything, as the upstream sends it.
 */
export class LogLevels {
  readonly #levels = new Map<string, number>();

  constructor(bus: Pick<EventBus, 'subscribe'>) {
    bus.subscribe((e) => {
      if (e.type !== 'mcp.log-level') return;
      const rank = SEVERITY.indexOf(e.level as LoggingLevel);
      if (rank < 0) return;
      const key = `${e.tenantId}|${e.sessionId}`;
      this.#levels.delete(key);
      if (this.#levels.size >= MAX_SESSIONS) this.#levels.delete(this.#levels.keys().next().value!);
      this.#levels.set(key, rank);
    });
  }

  /** Whether a log message of this level goes to this session's client. */
  passes(tenantId: string, sessionId: string | undefined, level: unknown): boolean {
    if (sessionId === undefined) return true;
    const min = this.#levels.get(`${tenantId}|${sessionId}`);
    if (min === undefined) return true;
    const rank = SEVERITY.indexOf(level as LoggingLevel);
    return rank < 0 || rank >= min; // an unknown level is not ours to drop
  }
}
