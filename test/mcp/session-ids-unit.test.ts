import type * as nodeCrypto from 'node:crypto';
import { createHmac as realHmac } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';

// Counts the HMACs McpSessionIds computes (the cost its cache of proved ids exists to avoid).
const hmacs = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof nodeCrypto>();
  return {
    ...crypto,
    createHmac: (...args: Parameters<typeof crypto.createHmac>) => {
      hmacs.count++;
      return crypto.createHmac(...args);
    },
  };
});

const { McpSessionIds } = await import('../../src/mcp/mcp-session-id.js');

const KEY = Buffer.alloc(32, 7);
const tenant = { id: 'ten_a', db: { vaultSecret: { findFirst: async () => ({ id: 'sec_1' }) } } } as never;
const services = { vault: { get: async () => KEY, put: async () => undefined } } as never;
const alice = { userId: 'usr_alice', clientId: 'cli_1' };
const bob = { userId: 'usr_bob', clientId: 'cli_1' };

describe('McpSessionIds (HMAC-bound session ids)', () => {
  it('accepts an id it issued for its principal without another HMAC; another principal still gets the full check and 404', async () => {
    const ids = new McpSessionIds(services);
    const id = await ids.issue(tenant, alice);
    const afterIssue = hmacs.count;
    expect(await ids.matches(tenant, alice, id)).toBe(true);
    expect(hmacs.count).toBe(afterIssue);
    expect(await ids.matches(tenant, bob, id)).toBe(false);
    expect(hmacs.count).toBe(afterIssue + 1);
    expect(await ids.matches({ ...(tenant as object), id: 'ten_b' } as never, alice, id)).toBe(false);
  });

  it('verifies ids issued elsewhere (another node, an older version) with the same MAC over the raw key, once per id', async () => {
    const nonce = 'n'.repeat(24);
    const mac = realHmac('sha256', KEY).update(`ten_a|usr_alice|cli_1|${nonce}`).digest('base64url');
    const ids = new McpSessionIds(services);
    const before = hmacs.count;
    expect(await ids.matches(tenant, alice, `${nonce}.${mac}`)).toBe(true);
    expect(await ids.matches(tenant, alice, `${nonce}.${mac}`)).toBe(true);
    expect(hmacs.count).toBe(before + 1);
    expect(await ids.matches(tenant, alice, `${nonce}.${mac.slice(1)}x`)).toBe(false);
  });

  it('proved (the synchronous check) is true only for an id proved for exactly this principal; forged, unknown and other principals are false', async () => {
    const ids = new McpSessionIds(services);
    const id = await ids.issue(tenant, alice);
    expect(ids.proved(tenant, alice, id)).toBe(true);
    expect(ids.proved(tenant, bob, id)).toBe(false);
    expect(ids.proved(tenant, { ...alice, clientId: 'cli_2' }, id)).toBe(false);
    expect(ids.proved({ ...(tenant as object), id: 'ten_b' } as never, alice, id)).toBe(false);
    // A well-formed id with a forged MAC, and one verified elsewhere but never seen here: not proved (matches decides).
    const nonce = 'm'.repeat(24);
    const mac = realHmac('sha256', KEY).update(`ten_a|usr_alice|cli_1|${nonce}`).digest('base64url');
    expect(ids.proved(tenant, alice, `${nonce}.${mac.slice(1)}x`)).toBe(false);
    expect(await ids.matches(tenant, alice, `${nonce}.${mac.slice(1)}x`)).toBe(false);
    expect(ids.proved(tenant, alice, `${nonce}.${mac.slice(1)}x`)).toBe(false);
    expect(ids.proved(tenant, alice, `${nonce}.${mac}`)).toBe(false);
    expect(await ids.matches(tenant, alice, `${nonce}.${mac}`)).toBe(true);
    expect(ids.proved(tenant, alice, `${nonce}.${mac}`)).toBe(true);
    expect(ids.proved(tenant, bob, `${nonce}.${mac}`)).toBe(false);
  });

  it('refuses an id issued to a client whose id holds "|" when it is replayed, with the nonce moved, for the client id before the "|"', async () => {
    const ids = new McpSessionIds(services);
    // A client ID metadata document's URL may contain "|"; the MAC input joins its parts with "|".
    const longer = { userId: 'usr_alice', clientId: 'https://client.example/app|x' };
    const shorter = { userId: 'usr_alice', clientId: 'https://client.example/app' };
    const id = await ids.issue(tenant, longer);
    const [nonce, mac] = id.split('.');
    // The same MAC input: ten_a|usr_alice|https://client.example/app|x|<nonce>.
    expect(realHmac('sha256', KEY).update(`ten_a|usr_alice|${shorter.clientId}|x|${nonce}`).digest('base64url')).toBe(mac);
    expect(await ids.matches(tenant, shorter, `x|${nonce}.${mac}`)).toBe(false);
    expect(await ids.matches(tenant, longer, id)).toBe(true);
  });

  it('refuses, whatever their MAC, nonces issue never makes: another length, other characters, capability letters out of order or twice', async () => {
    const ids = new McpSessionIds(services);
    const signed = (nonce: string) => `${nonce}.${realHmac('sha256', KEY).update(`ten_a|usr_alice|cli_1|${nonce}`).digest('base64url')}`;
    for (const good of ['A'.repeat(24), `${'a'.repeat(23)}-fus`, `${'_'.repeat(24)}u`]) expect(await ids.matches(tenant, alice, signed(good))).toBe(true);
    for (const bad of ['A'.repeat(23), 'A'.repeat(25), `${'A'.repeat(23)}|`, `${'A'.repeat(23)}=`, `${'A'.repeat(24)}sf`, `${'A'.repeat(24)}ff`, `${'A'.repeat(24)}x`, `${'A'.repeat(24)}\n`]) {
      expect(await ids.matches(tenant, alice, signed(bad))).toBe(false);
    }
  });
});
