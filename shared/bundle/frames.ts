import { availableParallelism } from 'node:os';
import { open } from 'node:fs/promises';
import { ConfigurationError, quoted } from '../errors.js';
import { compressFrame, FRAME_BYTES, type Compression } from './compression.js';

/** Frames laid out ahead of the one being written: enough to keep reads and compression busy. */
const FRAMES_AHEAD = 4;
/** File reads in flight at once. */
const READS = 16;
/** Frames compressed at once: one per core, leaving libuv's pool a thread for the reads. */
const COMPRESSIONS = Math.max(1, Math.min(availableParallelism(), 3));

interface Frame {
  buffer: Buffer;
  filled: number;
  reads: Promise<void>[];
}

/**
 * Lays a tar stream out into fixed-size frames and compresses each on its own. File contents are
 * read straight into the frame where they belong, many files at once, so nothing is copied twice
 * and memory holds a handful of frames whatever the size of the tree. Frames are cut at fixed
 * offsets, so the output depends on the bytes alone, never on timing.
 */
export class FrameWriter {
  readonly #compression: Compression;
  readonly #emit: (compressed: Buffer) => Promise<void>;
  readonly #pool: Buffer[] = [];
  readonly #queue: Promise<Buffer>[] = [];
  readonly #reads = new Slots(READS);
  readonly #compressions = new Slots(COMPRESSIONS);
  readonly #outputChunk: number | undefined;
  #frame: Frame;

  /** `outputChunk`: what compressFrame's output comes in; by default a frame's in one piece. */
  constructor(
    compression: Compression,
    emit: (compressed: Buffer) => Promise<void>,
    outputChunk?: number,
  ) {
    this.#compression = compression;
    this.#emit = emit;
    this.#outputChunk = outputChunk;
    this.#frame = this.#newFrame();
  }

  /** Appends bytes held in memory: headers, the end of the archive. */
  async put(bytes: Buffer): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      const count = Math.min(bytes.length - offset, FRAME_BYTES - this.#frame.filled);
      bytes.copy(this.#frame.buffer, this.#frame.filled, offset, offset + count);
      this.#frame.filled += count;
      offset += count;
      if (this.#frame.filled === FRAME_BYTES) await this.#seal();
    }
  }

  /** Appends zero bytes: frames are reused, so padding is written, never assumed. */
  async zeros(count: number): Promise<void> {
    let left = count;
    while (left > 0) {
      const run = Math.min(left, FRAME_BYTES - this.#frame.filled);
      this.#frame.buffer.fill(0, this.#frame.filled, this.#frame.filled + run);
      this.#frame.filled += run;
      left -= run;
      if (this.#frame.filled === FRAME_BYTES) await this.#seal();
    }
  }

  /** Appends `size` bytes of the file at `path`, read into the frames in the background. */
  async file(path: string, size: number): Promise<void> {
    let position = 0;
    while (position < size) {
      const frame = this.#frame;
      const length = Math.min(size - position, FRAME_BYTES - frame.filled);
      await this.#reads.acquire();
      const read = readSegment(path, frame.buffer, frame.filled, length, position).finally(() =>
        this.#reads.release(),
      );
      // Awaited when the frame is sealed; this only keeps an early failure from going unhandled.
      read.catch(() => undefined);
      frame.reads.push(read);
      frame.filled += length;
      position += length;
      if (frame.filled === FRAME_BYTES) await this.#seal();
    }
  }

  /** Seals the last frame and waits until every frame has been emitted, in order. */
  async finish(): Promise<void> {
    if (this.#frame.filled > 0) this.#queueFrame(this.#frame);
    while (this.#queue.length > 0) await this.#emit(await (this.#queue.shift() as Promise<Buffer>));
  }

  /** Waits for reads and compressions under way, so nothing writes into a frame afterwards. */
  async abort(): Promise<void> {
    await Promise.allSettled([...this.#frame.reads, ...this.#queue]);
  }

  async #seal(): Promise<void> {
    this.#queueFrame(this.#frame);
    this.#frame = this.#newFrame();
    while (this.#queue.length > FRAMES_AHEAD) {
      await this.#emit(await (this.#queue.shift() as Promise<Buffer>));
    }
  }

  #queueFrame(frame: Frame): void {
    const compressed = (async () => {
      // Settled, not raced: a failed read must not hand back a buffer others still write to.
      const reads = await Promise.allSettled(frame.reads);
      const failed = reads.find((read) => read.status === 'rejected');
      if (failed) throw failed.reason;
      const data = frame.buffer.subarray(0, frame.filled);
      const result = await this.#compressions.run(() =>
        compressFrame(data, this.#compression, this.#outputChunk),
      );
      this.#pool.push(frame.buffer);
      return result;
    })();
    compressed.catch(() => undefined);
    this.#queue.push(compressed);
  }

  #newFrame(): Frame {
    return { buffer: this.#pool.pop() ?? Buffer.allocUnsafe(FRAME_BYTES), filled: 0, reads: [] };
  }
}

async function readSegment(
  path: string,
  buffer: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<void> {
  const handle = await open(path, 'r');
  try {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(
        buffer,
        offset + done,
        length - done,
        position + done,
      );
      if (bytesRead === 0) {
        throw new ConfigurationError({
          subject: `file ${quoted(path)}`,
          problem: 'changed size while it was packed',
          hint: 'run the build command before packing',
        });
      }
      done += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/** A counting semaphore. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(count: number) {
    this.#free = count;
  }

  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }
}
