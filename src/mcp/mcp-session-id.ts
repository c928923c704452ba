import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import type { Services } from '../services.js';
import { safeEqual } from '../lib/secrets.js';
import type { TenantCtx } from '../tenants/tenant-context.js';
import { decodeCapabilities, encodeCapabilities, NO_CAPABILITIES, type RelayCapabilities } from './client-capabilities.js';

export interface SessionPrincipal {
  userId: string;
  clientId: string;
}

const KEY_KIND = 'mcp-session-key';
const MAX_VERIFIED = 10_000;
/** Length of the random part of a nonce (18 bytes, base64url); what follows it is the capability code. */
const RANDOM_CHARS = 24;
/**
 * Every nonce `issue` makes: the random part, then the capability code (client-capabilities.ts). Nothing else is
 * verified: the MAC input joins tenant, user, client and nonce with `|`, and a client id may contain `|` (a client ID
 * metadata document's URL may), so only a nonce that cannot contain one keeps that input unambiguous — otherwise an
 * id issued to client `…/app|x` would verify, sent as `x|nonce.mac`, for client `…/app`.
 */
const NONCE = new RegExp(`^[A-Za-z0-9_-]{${RANDOM_CHARS}}f?u?s?$`);

/**
 * MCP session ids that need no server-side state, so any node can serve any request (no sticky sessions):
 * `nonce.mac`, where mac = HMAC(tenant key, tenant|user|client|nonce). A session is never authentication (MCP
 * security best practices): the bearer token is checked on every request; the id is only bound to the principal
 * that created it, so another user or client presenting it gets 404 like an unknown session (MCP transports §2.5).
 * Visible ASCII only (0x21–0x7E): base64url and a dot.
 */
export class McpSessionIds {
  /** The tenant's key as a KeyObject: imported once, not on every HMAC (`createHmac` with raw bytes imports them each time). */
  readonly #keys = new Map<string, Promise<KeyObject>>();
  /** Verified session id → `tenant|user|client` it is bound to (bounded, oldest first out). */
  readonly #verified = new Map<string, string>();

  constructor(private readonly s: Services) {}

  /**
   * A new session id. The nonce ends with the code of the capabilities the client declared (client-capabilities.ts),
   * so the MAC covers them too.
   */
  async issue(t: TenantCtx, p: SessionPrincipal, capabilities: RelayCapabilities = NO_CAPABILITIES): Promise<string> {
    const nonce = randomBytes(18).toString('base64url') + encodeCapabilities(capabilities);
    const id = `${nonce}.${await this.#mac(t, p, nonce)}`;
    // Made here for this principal: its first request needs no HMAC either (only the same principal is let through).
    this.#remember(id, `${t.id}|${p.userId}|${p.clientId}`);
    return id;
  }

  /** The capabilities recorded in a session id that {@link matches} accepted. */
  static capabilitiesOf(sessionId: string): RelayCapabilities {
    return decodeCapabilities(sessionId.slice(RANDOM_CHARS, sessionId.indexOf('.')));
  }

  /**
   * Whether this id was already proved for exactly this principal (issued to it, or its MAC verified): answered
   * without a promise, so the common request skips {@link matches}' async call. False says nothing: ask `matches`.
   */
  proved(t: TenantCtx, p: SessionPrincipal, sessionId: string): boolean {
    const owner = this.#verified.get(sessionId);
    return owner !== undefined && owner === `${t.id}|${p.userId}|${p.clientId}`;
  }

  async matches(t: TenantCtx, p: SessionPrincipal, sessionId: string): Promise<boolean> {
    const owner = `${t.id}|${p.userId}|${p.clientId}`;
    // A session id already proved for exactly this principal: no HMAC (it was a measurable share of every request).
    // Only ids whose MAC verified are remembered, so another principal presenting one still gets the full check.
    if (this.#verified.get(sessionId) === owner) return true;
    const [nonce, mac, extra] = sessionId.split('.');
    if (!nonce || !mac || extra !== undefined || !NONCE.test(nonce)) return false;
    if (!safeEqual(mac, await this.#mac(t, p, nonce))) return false;
    this.#remember(sessionId, owner);
    return true;
  }

  #remember(sessionId: string, owner: string): void {
    if (this.#verified.size >= MAX_VERIFIED) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(sessionId, owner);
  }

  async #mac(t: TenantCtx, p: SessionPrincipal, nonce: string): Promise<string> {
    const key = await this.#key(t);
    return createHmac('sha256', key).update(`${t.id}|${p.userId}|${p.clientId}|${nonce}`).digest('base64url');
  }

  #key(t: TenantCtx): Promise<KeyObject> {
    let key = this.#keys.get(t.id);
    if (!key) {
      key = this.#loadOrCreateKey(t).then((raw) => createSecretKey(raw));
      this.#keys.set(t.id, key);
      key.catch(() => this.#keys.delete(t.id));
    }
    return key;
  }

  /** The tenant's oldest session key from the vault; two nodes racing to create one both settle on the oldest. */
  async #loadOrCreateKey(t: TenantCtx): Promise<Buffer> {
    const oldest = () =>
      t.db.vaultSecret.findFirst({ where: { ownerKind: KEY_KIND, ownerId: t.id }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: { id: true } });
    let row = await oldest();
    if (!row) {
      await this.s.vault.put(t, { kind: KEY_KIND, id: t.id }, randomBytes(32));
      row = await oldest();
    }
    return this.s.vault.get(t, row!.id);
  }
}
