import { describe, expect, it } from 'vitest';
import { readConditionalPages, type CachedPage, type PageAnswer, type PageStats } from '../../src/connectors/google/read-conditional-pages.js';

/** Reads a listing through readConditionalPages; `answers` plays Google, seeing each request's token and ETag. */
async function read(previous: CachedPage<string>[] | undefined, answers: (token: string | undefined, etag: string | undefined) => PageAnswer<string>) {
  const into: CachedPage<string>[] = [];
  const stats: PageStats = { requests: 0, notModified: 0 };
  const sent: [string | undefined, string | undefined][] = [];
  const items: string[] = [];
  for await (const x of readConditionalPages('test.list', 5, previous, into, stats, async (token, etag) => (sent.push([token, etag]), answers(token, etag)))) items.push(x);
  return { items, into, stats, sent };
}

const pages: CachedPage<string>[] = [
  { token: null, etag: '"a"', items: ['u1', 'u2'], next: '2' },
  { token: '2', etag: '"b"', items: ['u3'], next: null },
];

describe('readConditionalPages', () => {
  it('sends each page its stored ETag and reuses the stored page on 304; a changed page is read', async () => {
    const r = await read(pages, (token) => (token === '2' ? { notModified: false, etag: '"c"', items: ['u3', 'u4'], next: null } : { notModified: true }));
    expect(r.sent).toEqual([[undefined, '"a"'], ['2', '"b"']]);
    expect(r.items).toEqual(['u1', 'u2', 'u3', 'u4']);
    expect(r.stats).toEqual({ requests: 2, notModified: 1 });
    expect(r.into).toEqual([pages[0], { token: '2', etag: '"c"', items: ['u3', 'u4'], next: null }]);
  });

  it('a page reached by another token than last time is asked for unconditionally', async () => {
    const r = await read(pages, (token) => (token ? { notModified: false, etag: '"d"', items: ['u9'], next: null } : { notModified: false, etag: '"e"', items: ['u1'], next: 'X' }));
    expect(r.sent).toEqual([[undefined, '"a"'], ['X', undefined]]);
    expect(r.items).toEqual(['u1', 'u9']);
  });

  it('refuses a 304 to a request without If-None-Match, and a page without an ETag leaves nothing cached', async () => {
    await expect(read(undefined, () => ({ notModified: true }))).rejects.toThrow(/304 Not Modified to an unconditional request/);
    await expect(read([{ ...pages[0]!, token: 'other' }], () => ({ notModified: true }))).rejects.toThrow(/unconditional/);
    const r = await read(undefined, (token) => (token ? { notModified: false, etag: null, items: ['u3'], next: null } : { notModified: false, etag: '"a"', items: ['u1'], next: '2' }));
    expect(r.items).toEqual(['u1', 'u3']);
    expect(r.into).toEqual([]);
  });

  it('ends a runaway nextPageToken loop', async () => {
    await expect(read(undefined, (token) => ({ notModified: false, etag: '"x"', items: [], next: String(Number(token ?? 0) + 1) }))).rejects.toThrow(/more than 5 pages/);
  });
});
