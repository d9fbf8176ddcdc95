import { open, type FileHandle } from 'node:fs/promises';

/** Bytes a reader takes from the file at once: large writes, few system calls. */
const READ_BYTES = 1024 * 1024;

/**
 * A stream made once and read by many: the source is written to a file as it comes, and each
 * reader follows the file from its start, waiting at its end for more. Hosts that get the same
 * release stream share one making of it (one parse, one compression), however many there are
 * and whenever each starts; memory holds a chunk per reader, whatever the length of the stream.
 * A source that fails fails every reader once it has read what came before.
 */
export class Spool {
  readonly #file: string;
  readonly #opened: Promise<void>;
  #written = 0;
  #done = false;
  #failure: { error: unknown } | undefined;
  #wake: (() => void)[] = [];

  constructor(file: string, source: AsyncIterable<Buffer>) {
    this.#file = file;
    let opened!: () => void;
    this.#opened = new Promise((resolve) => (opened = resolve));
    void this.#fill(source, opened);
  }

  /** Bytes written so far, and whether the source has ended. */
  get written(): number {
    return this.#written;
  }

  get done(): boolean {
    return this.#done;
  }

  async #fill(source: AsyncIterable<Buffer>, opened: () => void): Promise<void> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(this.#file, 'w');
      opened();
      for await (const chunk of source) {
        let offset = 0;
        while (offset < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, offset);
          offset += bytesWritten;
        }
        this.#written += chunk.length;
        this.#notify();
      }
      this.#done = true;
    } catch (error) {
      this.#failure = { error };
    } finally {
      opened();
      await handle?.close().catch(() => undefined);
      this.#notify();
    }
  }

  #notify(): void {
    for (const wake of this.#wake.splice(0)) wake();
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#wake.push(resolve));
  }

  /** The stream from its start. */
  async *read(): AsyncGenerator<Buffer> {
    await this.#opened;
    if (this.#failure && this.#written === 0) throw this.#failure.error;
    const handle = await open(this.#file, 'r');
    try {
      let position = 0;
      for (;;) {
        if (position < this.#written) {
          const length = Math.min(READ_BYTES, this.#written - position);
          const buffer = Buffer.allocUnsafe(length);
          const { bytesRead } = await handle.read(buffer, 0, length, position);
          if (bytesRead === 0) throw new Error(`${this.#file} was cut short while it was read`);
          position += bytesRead;
          yield bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
          continue;
        }
        if (this.#failure) throw this.#failure.error;
        if (this.#done) return;
        await this.#changed();
      }
    } finally {
      await handle.close();
    }
  }
}
