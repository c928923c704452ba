import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawConnection } from '../../src/db/open-database.js';
import { RateLimiter, rateRules, tenantAndNetwork } from '../../src/http/rate-limit.js';
import { RateView } from '../../src/http/rate-view.js';
import { ManualClock } from '../../src/lib/clock.js';
import { CACHE_TRUST_MS, EventBus, type BusEvent } from '../../src/revocation/event-bus.js';
import { openTestDatabase, testDbKinds } from '../support/databases.js';

/**
 * The token endpoint's failure limits answered from the node's view (issue 17 §5, docs/decisions/0041). That a check
 * sent no statement is shown by changing the counters behind the view's back: a check that read them would answer
 * differently. Two views on one bus stand for two nodes (the bus delivers one node's event to the other's listeners).
 */
describe.each(testDbKinds)('rate-limit view (%s)', (kind) => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(() => database?.close());

  const rule = rateRules.tokenFailNet;
  function setup(listening = true) {
    let ms = 0;
    const bus = new EventBus({ inProcess: listening, notify: async () => {} } as unknown as RawConnection, pino({ level: 'silent' }), { now: () => ms });
    const clock = new ManualClock('2026-03-01T12:00:00Z');
    const node = () => new RateLimiter(database.prisma, clock, new RateView(bus));
    const checks = tenantAndNetwork(rule, rateRules.tokenFailTenant, `ten_${randomBytes(4).toString('hex')}`, '203.0.113.9');
    const netKey = () => `${rule.name}|${checks[0]![1]}|${Math.floor(clock.now().getTime() / rule.windowMs)}`;
    const setCount = (count: number) =>
      database.prisma.rateLimitCounter.upsert({ where: { key: netKey() }, create: { key: netKey(), count, expiresAt: new Date(clock.now().getTime() + rule.windowMs) }, update: { count } });
    const clear = () => database.prisma.rateLimitCounter.deleteMany({ where: { key: netKey() } });
    return { bus, clock, node, checks, setCount, clear, advance: (d: number) => (ms += d) };
  }

  it('after one read, a counter below its limit is assumed below (no read) until an event says otherwise', async () => {
    const { bus, node, checks, setCount, clear } = setup();
    const a = node();
    expect(await a.check(checks)).toEqual({ ok: true }); // read: below
    await setCount(rule.limit); // behind the view's back, no event
    expect(await a.check(checks)).toEqual({ ok: true });
    bus.deliverLocally({ type: 'rate.exhausted', key: `${rule.name}|${checks[0]![1]}|x` }); // another window's key
    expect(await a.check(checks)).toEqual({ ok: true });
    bus.deliverLocally({ type: 'bus.resumed' } as unknown as BusEvent);
    expect(await a.check(checks)).toMatchObject({ ok: false, rule: rule.name }); // read again after the gap
    await clear();
    expect(await a.check(checks)).toMatchObject({ ok: false }); // at its limit for the rest of the window: no read
  });

  it('a count that reaches the limit on one node is refused on the other from its event, without a read', async () => {
    const { node, checks, setCount, clear } = setup();
    const [a, b] = [node(), node()];
    expect(await b.check(checks)).toEqual({ ok: true }); // B has read: below
    await setCount(rule.limit - 1);
    expect(await a.hit(checks)).toEqual({ ok: true }); // this count reaches the limit: A tells every node
    await clear();
    expect(await b.check(checks)).toMatchObject({ ok: false, rule: rule.name });
    expect(await a.check(checks)).toMatchObject({ ok: false, rule: rule.name });
  });

  it('a node whose own count finds the limit reached refuses from then on; the next window is read afresh', async () => {
    const { clock, node, checks, setCount } = setup();
    const a = node();
    expect(await a.check(checks)).toEqual({ ok: true });
    await setCount(rule.limit); // reached on a node whose event was lost
    expect(await a.check(checks)).toEqual({ ok: true }); // the bound: until this node's next own failure
    expect(await a.hit(checks)).toMatchObject({ ok: false }); // its count reads the counters
    expect(await a.check(checks)).toMatchObject({ ok: false });
    clock.advance(rule.windowMs);
    expect(await a.check(checks)).toEqual({ ok: true }); // a new window: read, nothing counted yet
    await setCount(rule.limit);
    expect(await a.check(checks)).toEqual({ ok: true });
  });

  it('while the bus cannot prove it is listening, a "below" is assumed only within the trust bound', async () => {
    const { node, checks, setCount, advance } = setup(false);
    const a = node();
    expect(await a.check(checks)).toEqual({ ok: true });
    await setCount(rule.limit);
    advance(CACHE_TRUST_MS - 1);
    expect(await a.check(checks)).toEqual({ ok: true });
    advance(1);
    expect(await a.check(checks)).toMatchObject({ ok: false });
  });

  it('without a view every check reads (the other limited endpoints)', async () => {
    const { clock, checks, setCount } = setup();
    const plain = new RateLimiter(database.prisma, clock);
    expect(await plain.check(checks)).toEqual({ ok: true });
    await setCount(rule.limit);
    expect(await plain.check(checks)).toMatchObject({ ok: false });
  });
});
