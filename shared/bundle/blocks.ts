import { createHash, webcrypto } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { ConfigurationError } from '../errors.js';

/*
 * Files the runner keeps between verifying a bundle and sending it (the content file, the
 * bundle itself) are hashed by blocks as they are written, and every block read again is
 * checked against its digest: something that changes them on the runner in between never
 * reaches a host.
 */

/** A kept file is hashed and checked by blocks of this size. */
export const CHECKED_BLOCK = 1024 * 1024;

/** Hashes a stream of bytes by blocks of CHECKED_BLOCK: the digests, one after the other. */
export class BlockHasher {
  readonly #digests: Buffer[] = [];
  #hash = createHash('sha256');
  #filled = 0;

  update(bytes: Buffer): void {
    let at = 0;
    while (at < bytes.length) {
      const count = Math.min(bytes.length - at, CHECKED_BLOCK - this.#filled);
      this.#hash.update(bytes.subarray(at, at + count));
      this.#filled += count;
      at += count;
      if (this.#filled === CHECKED_BLOCK) this.#next();
    }
  }

  #next(): void {
    this.#digests.push(this.#hash.digest());
    this.#hash = createHash('sha256');
    this.#filled = 0;
  }

  finish(): Buffer {
    if (this.#filled > 0) this.#next();
    return Buffer.concat(this.#digests);
  }
}

/** A block of a kept file, read and checked. */
interface Block {
  block: number;
  /** The whole buffer, and the block's bytes in it. */
  buffer: Buffer;
  bytes: Buffer;
}

/** A block of a kept file that is not what was recorded. */
export class BlockChanged extends Error {}

/** The error a stream fails with when a kept file is not what was verified: `what` says which. */
export function keptFileChanged(what: string): ConfigurationError {
  return new ConfigurationError({
    subject: 'bundle',
    problem: what,
    hint: 'something else on the runner writes to its temporary directory',
  });
}

/**
 * Reads a kept file a block at a time, each block checked against the digest BlockHasher
 * recorded. A block read is kept for the reads after it: a file read front to back is read
 * once, the next block read and hashed in libuv's pool while this one is handed on. Pieces
 * handed out are only good until the next call: the caller copies them.
 */
export class CheckedReader {
  readonly #handle: FileHandle;
  readonly #digests: Buffer;
  readonly #blocks: number;
  /** Buffers no block holds: two in all, the current block's and the next's. */
  readonly #free: Buffer[] = [Buffer.allocUnsafe(CHECKED_BLOCK), Buffer.allocUnsafe(CHECKED_BLOCK)];
  #current: Block | undefined;
  #next: { block: number; loaded: Promise<Block> } | undefined;

  private constructor(handle: FileHandle, digests: Buffer) {
    this.#handle = handle;
    this.#digests = digests;
    this.#blocks = digests.length / 32;
  }

  /** A reader of `file`, whose blocks BlockHasher gave `digests`; close it when done. */
  static async open(file: string, digests: Buffer): Promise<CheckedReader> {
    return new CheckedReader(await open(file, 'r'), digests);
  }

  /** `size` bytes from `offset`; throws BlockChanged if a block differs from its digest. */
  async *read(offset: number, size: number): AsyncGenerator<Buffer> {
    const end = offset + size;
    for (let at = offset; at < end;) {
      const block = Math.floor(at / CHECKED_BLOCK);
      if (this.#current?.block !== block) await this.#advance(block);
      const { bytes } = this.#current as Block;
      const start = block * CHECKED_BLOCK;
      const to = Math.min(end, start + bytes.length);
      if (to <= at) throw new BlockChanged();
      yield bytes.subarray(at - start, to - start);
      at = to;
    }
  }

  /** Waits for what is being read ahead, then closes the file. */
  async close(): Promise<void> {
    await this.#next?.loaded.catch(() => undefined);
    await this.#handle.close();
  }

  async #advance(block: number): Promise<void> {
    if (this.#current) this.#free.push(this.#current.buffer);
    this.#current = undefined;
    const next = this.#next;
    this.#next = undefined;
    if (next !== undefined && next.block !== block) {
      // Read ahead for nothing (a delta skips blocks): its buffer is free once it is done.
      const done = await next.loaded.catch(() => undefined);
      if (done) this.#free.push(done.buffer);
    }
    const loaded = next?.block === block ? next.loaded : this.#load(block);
    this.#current = await loaded;
    if (block + 1 < this.#blocks) {
      const ahead = this.#load(block + 1);
      // A block read ahead is checked when it is needed; one never needed fails nothing.
      ahead.catch(() => undefined);
      this.#next = { block: block + 1, loaded: ahead };
    }
  }

  async #load(block: number): Promise<Block> {
    if (block >= this.#blocks) throw new BlockChanged();
    const buffer = this.#free.pop() ?? Buffer.allocUnsafe(CHECKED_BLOCK);
    const digest = this.#digests.subarray(block * 32, block * 32 + 32);
    const { bytesRead } = await this.#handle.read(buffer, 0, CHECKED_BLOCK, block * CHECKED_BLOCK);
    const bytes = buffer.subarray(0, bytesRead);
    // Hashed in libuv's pool, off the thread that writes the stream.
    const hashed = Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes));
    if (!hashed.equals(digest) || bytesRead === 0) {
      this.#free.push(buffer);
      throw new BlockChanged();
    }
    return { block, buffer, bytes };
  }
}
