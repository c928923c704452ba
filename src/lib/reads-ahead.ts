/**
 * Background reads a cache starts after a bus event (decision 0057): each starts on the next turn of the event loop
 * (`setImmediate`), so every subscriber has obeyed the event first and the read sees the change, as a request arriving
 * then would; a key already waiting for its turn is not scheduled twice (a burst of events, one read). A failed read
 * is the cache's to leave uncached; here it is only swallowed, since nobody waits for it.
 */
export class ReadsAhead {
  readonly #waiting = new Set<string>();
  readonly #inFlight = new Set<Promise<void>>();

  schedule(key: string, read: () => Promise<unknown> | undefined): void {
    if (this.#waiting.has(key)) return;
    this.#waiting.add(key);
    const done: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => {
        this.#waiting.delete(key);
        return read();
      })
      .then(
        () => {},
        () => {},
      )
      .finally(() => this.#inFlight.delete(done));
    this.#inFlight.add(done);
  }

  /** Resolves once every read scheduled so far has finished (tests counting statements wait for it). */
  async settled(): Promise<void> {
    while (this.#inFlight.size) await Promise.all(this.#inFlight);
  }
}
