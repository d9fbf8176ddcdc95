/**
 * Bytes from an iterator of chunks, read by exact counts. `cutShort` makes the error for input
 * that ends part-way, told where (`inside an entry`).
 */
export class ByteQueue {
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  /** Bytes handed out so far. */
  consumed = 0;

  constructor(
    private readonly source: AsyncIterator<Buffer>,
    private readonly cutShort: (where: string) => Error,
  ) {}

  /** Exactly `count` bytes; `undefined` at the end of the input, an error if it ends part-way. */
  async read(count: number): Promise<Buffer | undefined> {
    while (this.#buffered < count) {
      const next = await this.source.next();
      if (next.done) {
        if (this.#buffered === 0) return undefined;
        throw this.cutShort('inside a header or an entry');
      }
      this.#chunks.push(next.value);
      this.#buffered += next.value.length;
    }
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#chunks.length = 0;
    if (all.length > count) this.#chunks.push(all.subarray(count));
    this.#buffered -= count;
    this.consumed += count;
    return all.subarray(0, count);
  }

  /** Between 1 and `max` bytes, as they come. */
  async next(max: number): Promise<Buffer> {
    if (this.#buffered === 0) {
      const next = await this.source.next();
      if (next.done) throw this.cutShort('inside an entry');
      this.#chunks.push(next.value);
      this.#buffered += next.value.length;
    }
    const first = this.#chunks.shift()!;
    const taken = first.length > max ? first.subarray(0, max) : first;
    if (first.length > max) this.#chunks.unshift(first.subarray(max));
    this.#buffered -= taken.length;
    this.consumed += taken.length;
    return taken;
  }

  /** Reads the rest of the input and drops it. */
  async drain(): Promise<void> {
    this.#chunks.length = 0;
    this.#buffered = 0;
    for (let next = await this.source.next(); !next.done; next = await this.source.next()) {
      void next.value;
    }
  }

  async close(): Promise<void> {
    await this.source.return?.();
  }
}
