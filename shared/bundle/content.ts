import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { indexEntry, sortIndex, type FileIndex, type IndexEntry } from './file-index.js';
import type { CheckedEntry } from './check.js';

/*
 * A verified bundle as the runner keeps it for the hosts: the bytes of its files one after the
 * other in one file (no tar headers, no padding, not compressed), and for each entry what its tar
 * header says and where its bytes are. It is written in the pass that checks the bundle, so a
 * host's stream is made without reading the bundle again: headers from the entries, file bytes
 * read at their offsets, only for the files that travel.
 */

/** An entry of the bundle, as the index lists it, with the rest of what its tar header held. */
export interface ContentEntry extends IndexEntry {
  /** Seconds since 1970, as the bundle says. */
  mtime: number;
  /** Where a file's bytes start in the content file; 0 for the other kinds. */
  offset: number;
}

export interface ReleaseContent {
  /** The file holding the bytes of every file, in the bundle's order. */
  file: string;
  /**
   * The sha256 of each CONTENT_BLOCK bytes of the file, one after the other: whatever is read
   * of it again is checked against them, so a file changed on the runner since the bundle was
   * verified never reaches a host.
   */
  blocks: Buffer;
  /** In the bundle's order: a directory before what it holds. */
  entries: readonly ContentEntry[];
  /** The same entries in the order of `.release/index`. */
  index: FileIndex;
}

/**
 * What a release writes itself (its `.env`, its `.release/` metadata): the bundle's own entries
 * at these paths are left out of the release, as they would be overwritten or followed.
 */
export function isReleaseOwnPath(path: string): boolean {
  return path === '.env' || path === '.release' || path.startsWith('.release/');
}

/** Bytes gathered before each write to the content file. */
const WRITE_BYTES = 1024 * 1024;

/** The content file is checked by blocks of this size. */
export const CONTENT_BLOCK = 1024 * 1024;

/** Hashes a stream of bytes by blocks of CONTENT_BLOCK. */
class BlockHasher {
  readonly #digests: Buffer[] = [];
  #hash = createHash('sha256');
  #filled = 0;

  update(bytes: Buffer): void {
    let at = 0;
    while (at < bytes.length) {
      const count = Math.min(bytes.length - at, CONTENT_BLOCK - this.#filled);
      this.#hash.update(bytes.subarray(at, at + count));
      this.#filled += count;
      at += count;
      if (this.#filled === CONTENT_BLOCK) this.#next();
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

/** Fed each checked entry of a bundle, in order, by the pass that checks it. */
export class ContentRecorder {
  readonly #file: string;
  readonly #handle: FileHandle;
  readonly #entries: ContentEntry[] = [];
  readonly #blocks = new BlockHasher();
  #offset = 0;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  private constructor(file: string, handle: FileHandle) {
    this.#file = file;
    this.#handle = handle;
  }

  /** Records into `file`, which must not exist yet. */
  static async create(file: string): Promise<ContentRecorder> {
    return new ContentRecorder(file, await open(file, 'wx', 0o600));
  }

  /** Indexes an entry and keeps a file's bytes; reads its content, so call it before the next. */
  async add(entry: CheckedEntry): Promise<void> {
    if (isReleaseOwnPath(entry.path)) return;
    const offset = this.#offset;
    const content = entry.kind === 'file' ? this.#kept(entry.content) : undefined;
    const indexed = await indexEntry({ ...entry, content });
    this.#entries.push({
      ...indexed,
      mtime: entry.mtime,
      offset: entry.kind === 'file' ? offset : 0,
    });
  }

  async *#kept(content: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of content) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      this.#offset += chunk.length;
      if (this.#pendingBytes >= WRITE_BYTES) await this.#flush();
      yield chunk;
    }
  }

  async #flush(): Promise<void> {
    const bytes = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#blocks.update(bytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    let written = 0;
    while (written < bytes.length) {
      written += (await this.#handle.write(bytes, written)).bytesWritten;
    }
  }

  /** Writes what is left and closes the file. */
  async finish(): Promise<ReleaseContent> {
    try {
      await this.#flush();
    } finally {
      await this.#handle.close();
    }
    return {
      file: this.#file,
      blocks: this.#blocks.finish(),
      entries: this.#entries,
      index: sortIndex(this.#entries),
    };
  }

  /** Closes the file after a failed pass; the caller removes it. */
  async abort(): Promise<void> {
    await this.#handle.close().catch(() => undefined);
  }
}
