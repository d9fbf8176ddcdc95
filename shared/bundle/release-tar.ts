import { webcrypto } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { ConfigurationError } from '../errors.js';
import { CONTENT_BLOCK, type ContentEntry, type ReleaseContent } from './content.js';
import { encodeHeader, END_OF_ARCHIVE, paddingAfter, writeHardLink, writeHeader } from './tar.js';

export interface ReleaseTarOptions {
  /** The directory the entries go under, relative to where the host unpacks: `<id>.tmp`. */
  into: string;
  /** The base release's directory, relative to the same place: `<base id>`. */
  base?: string;
  /** Files the host hard-links from the base instead of receiving. */
  carry?: ReadonlySet<string>;
}

/** A block of the content file, read and checked. */
interface Block {
  block: number;
  /** The whole buffer, and the block's bytes in it. */
  buffer: Buffer;
  bytes: Buffer;
}

/**
 * Reads file bytes from the content file a block at a time, each block checked against the
 * digest recorded when the bundle was verified. A block read is kept for the files after it: a
 * full transfer reads the file once, front to back, the next block read and hashed in libuv's
 * pool while this one is written out. Pieces handed out are only good until the next call: the
 * caller copies them.
 */
class ContentReader {
  readonly #handle: FileHandle;
  readonly #digests: Buffer;
  readonly #blocks: number;
  /** Buffers no block holds: two in all, the current block's and the next's. */
  readonly #free: Buffer[] = [Buffer.allocUnsafe(CONTENT_BLOCK), Buffer.allocUnsafe(CONTENT_BLOCK)];
  #current: Block | undefined;
  #next: { block: number; loaded: Promise<Block> } | undefined;

  constructor(handle: FileHandle, digests: Buffer) {
    this.#handle = handle;
    this.#digests = digests;
    this.#blocks = digests.length / 32;
  }

  async *read(offset: number, size: number): AsyncGenerator<Buffer> {
    const end = offset + size;
    for (let at = offset; at < end;) {
      const block = Math.floor(at / CONTENT_BLOCK);
      if (this.#current?.block !== block) await this.#advance(block);
      const { bytes } = this.#current as Block;
      const start = block * CONTENT_BLOCK;
      const to = Math.min(end, start + bytes.length);
      yield bytes.subarray(at - start, to - start);
      at = to;
    }
  }

  /** Waits for what is being read ahead; call before the reader is dropped. */
  async close(): Promise<void> {
    await this.#next?.loaded.catch(() => undefined);
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
    const buffer = this.#free.pop() ?? Buffer.allocUnsafe(CONTENT_BLOCK);
    const digest = this.#digests.subarray(block * 32, block * 32 + 32);
    const { bytesRead } = await this.#handle.read(buffer, 0, CONTENT_BLOCK, block * CONTENT_BLOCK);
    const bytes = buffer.subarray(0, bytesRead);
    // Hashed in libuv's pool, off the thread that writes the stream.
    const hashed = Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes));
    if (!hashed.equals(digest) || bytesRead === 0) {
      this.#free.push(buffer);
      throw new ContentChanged();
    }
    return { block, buffer, bytes };
  }
}

/** A block of the content file that is not what was recorded. */
class ContentChanged extends Error {}

function changed(entry: ContentEntry): ConfigurationError {
  return new ConfigurationError({
    subject: 'bundle',
    problem: `the files kept on the runner changed since they were verified (found reading ${entry.path})`,
    hint: 'something else on the runner writes to its temporary directory',
  });
}

/** Bytes of tar gathered before they are handed on: headers and file bytes written in place. */
const BATCH_BYTES = 1024 * 1024;
/** Room kept for one header, pax records and all: paths are at most a few KiB. */
const HEADER_ROOM = 64 * 1024;

/**
 * The bundle's entries as a host unpacks them to make a release: each written anew under `into`
 * from what the verified pass recorded (quirks of the original archive never reach the host's
 * tar), except the files in `carry`, which become hard links to `<base>/<path>`. Without `carry`
 * it is the whole bundle: a full transfer. File bytes are read again only for the files that
 * travel, checked on the way; the stream fails if they changed. It comes in pieces of about a
 * MiB, and has no end-of-archive blocks: the index update and the release's own files follow.
 */
export async function* releaseTar(
  content: ReleaseContent,
  options: ReleaseTarOptions,
): AsyncGenerator<Buffer> {
  const carry = options.carry ?? new Set<string>();
  if (carry.size > 0 && options.base === undefined) {
    throw new Error('files to hard-link need the base release they are linked from');
  }
  const handle = await open(content.file, 'r');
  let out = Buffer.allocUnsafe(BATCH_BYTES);
  let at = 0;
  function* handOn(room: number): Generator<Buffer> {
    if (BATCH_BYTES - at >= room) return;
    yield out.subarray(0, at);
    out = Buffer.allocUnsafe(BATCH_BYTES);
    at = 0;
  }
  const reader = new ContentReader(handle, content.blocks);
  try {
    for (const entry of content.entries) {
      if (BATCH_BYTES - at < HEADER_ROOM) yield* handOn(HEADER_ROOM);
      const path = `${options.into}/${entry.path}`;
      const executable = entry.kind === 'file' && entry.mode === 0o755;
      if (entry.kind === 'file' && carry.has(entry.path)) {
        const target = `${options.base ?? ''}/${entry.path}`;
        at += writeHardLink({ path, target, executable }, entry.mtime, out, at);
        continue;
      }
      const { kind, size, linkTarget } = entry;
      at += writeHeader({ path, kind, size, executable, linkTarget }, entry.mtime, out, at);
      if (kind !== 'file') continue;
      try {
        for await (const piece of reader.read(entry.offset, size)) {
          for (let from = 0; from < piece.length;) {
            const count = Math.min(piece.length - from, BATCH_BYTES - at);
            piece.copy(out, at, from, from + count);
            at += count;
            from += count;
            yield* handOn(1);
          }
        }
      } catch (error) {
        throw error instanceof ContentChanged ? changed(entry) : error;
      }
      const padding = paddingAfter(size);
      yield* handOn(padding);
      out.fill(0, at, at + padding);
      at += padding;
    }
    if (at > 0) yield out.subarray(0, at);
  } finally {
    await reader.close();
    await handle.close();
  }
}

/** A file the release writes itself, under `.release/` or its `.env`. */
export interface ReleaseFile {
  path: '.env' | `.release/${string}`;
  content: Buffer;
  /** 0644 unless said: the `.env` is 0600 from the moment it exists. */
  mode?: number;
}

/**
 * The release's own files under `into` (its `.release/` directory came before, in the shared
 * stream), then the end of the archive.
 */
export function* releaseFilesTar(into: string, files: readonly ReleaseFile[]): Generator<Buffer> {
  const mtime = Math.floor(Date.now() / 1000);
  for (const file of files) {
    const size = file.content.length;
    const entry = { path: `${into}/${file.path}`, size, executable: false, mode: file.mode };
    yield encodeHeader({ ...entry, kind: 'file' }, mtime);
    yield file.content;
    const padding = paddingAfter(size);
    if (padding > 0) yield END_OF_ARCHIVE.subarray(0, padding);
  }
  yield END_OF_ARCHIVE;
}
