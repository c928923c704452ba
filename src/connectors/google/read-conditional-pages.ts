/** One page of a listing as last read: the page token that fetched it, its ETag, its items and the next token. */
export interface CachedPage<T> {
  token: string | null;
  etag: string;
  items: T[];
  next: string | null;
}

/** A page fetch: `notModified` when Google answered 304 to our If-None-Match, else the page (its ETag if any). */
export type PageAnswer<T> = { notModified: true } | { notModified: false; etag: string | null; items: T[]; next: string | null };

/** Counts of one run's listing requests, for the report. */
export interface PageStats {
  requests: number;
  notModified: number;
}

/**
 * Follows a listing's `nextPageToken` to the end, conditionally: a page whose token matches the previous run's page at
 * the same position is requested with that page's ETag (If-None-Match), and a 304 answer reuses the previous run's
 * items and next token. Google gives a list response an ETag for its contents (the `etag` field and header), so an
 * unchanged page costs a request without a body. `into` receives this run's pages (the next run's cache); a page without
 * an ETag is not cached, so the listing is read in full next time. Any failure throws (no partial listing).
 */
export async function* readConditionalPages<T>(
  label: string,
  maxPages: number,
  previous: CachedPage<T>[] | undefined,
  into: CachedPage<T>[],
  stats: PageStats,
  fetchPage: (pageToken: string | undefined, etag: string | undefined) => Promise<PageAnswer<T>>,
): AsyncIterable<T> {
  let token: string | null = null;
  let cacheable = true;
  for (let i = 0; i < maxPages; i++) {
    const before = previous?.[i];
    const etag = before && before.token === token ? before.etag : undefined;
    const answer = await fetchPage(token ?? undefined, etag);
    stats.requests++;
    let page: CachedPage<T>;
    if (answer.notModified) {
      // A 304 without our If-None-Match would be Google's bug; refuse it rather than invent a page.
      if (!etag || !before) throw new Error(`${label}: 304 Not Modified to an unconditional request`);
      stats.notModified++;
      page = before;
    } else {
      cacheable &&= answer.etag !== null;
      page = { token, etag: answer.etag ?? '', items: answer.items, next: answer.next };
    }
    into.push(page);
    yield* page.items;
    if (!page.next) {
      if (!cacheable) into.length = 0;
      return;
    }
    token = page.next;
  }
  throw new Error(`${label}: more than ${maxPages} pages`);
}
