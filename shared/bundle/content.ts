import { open, type FileHandle } from 'node:fs/promises';
import { BlockHasher } from './blocks.js';
import {
  checkedEntries,
  type CheckedEntry,
  type CheckOptions,
  type ForwardableTar,
} from './check.js';
import { EntryTable, type TableEntry } from './entry-table.js';
import { indexEntry, type FileIndex } from './file-index.js';

/*
 * A verified bundle as the runner keeps it for the hosts: the bytes of its files one after the
 * other in one file (no tar headers, no padding, not compressed), and for each entry what its tar
 * header says and where its bytes are. It is written in the pass that checks the bundle, so a
 * host's stream is made without reading the bundle again: headers from the entries, file bytes
 * read at their offsets, only for the files that travel.
 */

/** An entry of the bundle, as the index lists it, with the rest of what its tar header held. */
export type ContentEntry = TableEntry;

export interface ReleaseContent {
  /** The file holding the bytes of every file, in the bundle's order. */
  file: string;
  /**
   * The sha256 of each CHECKED_BLOCK bytes of the file, one after the other: whatever is read
   * of it again is checked against them, so a file changed on the runner since the bundle was
   * verified never reaches a host.
   */
  blocks: Buffer;
  /** In the bundle's order: a directory before what it holds. Read again as often as needed. */
  entries: Iterable<ContentEntry> & { readonly length: number };
  /** The same entries in the order of `.release/index`. */
  index: FileIndex;
  /** The bundle file, when its own zstd frames can go to a host that receives it whole. */
  bundle?: ForwardableBundle;
}

/**
 * A zstd bundle whose tar, up to its end-of-archive blocks, is byte for byte what the runner
 * writes for the entries it checked (ForwardableTar), kept as it was downloaded.
 */
export interface ForwardableBundle extends ForwardableTar {
  file: string;
  /** The sha256 of each CHECKED_BLOCK bytes of the file, as for the content file. */
  blocks: Buffer;
}

/**
 * What a release writes itself (its `.env`, its `.release/` metadata): the bundle's own entries
 * at these paths are left out of the release, as they would be overwritten or followed.
 */
export function isReleaseOwnPath(path: string): boolean {
  return path === '.env' || path === '.release' || path.startsWith('.release/');
}

/**
 * Bytes gathered before each write to the content file, copied into one buffer kept for the
 * whole pass: the bundle's pieces are let go at once and die young, where holding them until a
 * write (and concatenating them for it) kept every byte of the bundle alive long enough to reach
 * V8's old generation, which frees buffers only every 64 MiB of them.
 */
const WRITE_BYTES = 1024 * 1024;

/** Checks a bundle and keeps what the hosts get, in the one pass that reads it. */
export class ContentRecorder {
  readonly #file: string;
  readonly #handle: FileHandle;
  readonly #entries = new EntryTable();
  readonly #blocks = new BlockHasher();
  #offset = 0;
  readonly #buffer = Buffer.allocUnsafe(WRITE_BYTES);
  #buffered = 0;
  /** Where the caller keeps the bundle's own bytes, and their digests as they were read. */
  readonly #bundle: { file: string; blocks: BlockHasher } | undefined;
  #forwardable: ForwardableTar | undefined;
  /** The bundle holds entries the release writes itself: its tar is not the release's. */
  #ownPaths = false;

  private constructor(file: string, handle: FileHandle, bundle: string | undefined) {
    this.#file = file;
    this.#handle = handle;
    this.#bundle = bundle === undefined ? undefined : { file: bundle, blocks: new BlockHasher() };
  }

  /**
   * Records into `file`, which must not exist yet. `bundle`: where the caller writes the same
   * bytes `record` reads, so that its frames can be sent as they are.
   */
  static async create(file: string, bundle?: string): Promise<ContentRecorder> {
    return new ContentRecorder(file, await open(file, 'wx', 0o600), bundle);
  }

  /** Checks the bundle in `bytes` entry by entry (checkedEntries) and records every entry. */
  async record(bytes: AsyncIterable<Buffer>, options: CheckOptions = {}): Promise<void> {
    const bundle = this.#bundle;
    async function* hashed(): AsyncGenerator<Buffer> {
      for await (const chunk of bytes) {
        bundle?.blocks.update(chunk);
        yield chunk;
      }
    }
    const onForwardable = (tar: ForwardableTar | undefined) => (this.#forwardable = tar);
    const checking = { ...options, ...(bundle ? { onForwardable } : {}) };
    for await (const entry of checkedEntries(hashed(), checking)) await this.#add(entry);
  }

  /** Indexes an entry and keeps a file's bytes; reads its content, so call it before the next. */
  async #add(entry: CheckedEntry): Promise<void> {
    if (isReleaseOwnPath(entry.path)) {
      this.#ownPaths = true;
      return;
    }
    const offset = this.#offset;
    const content = entry.kind === 'file' ? this.#kept(entry.content) : undefined;
    const indexed = await indexEntry({ ...entry, content });
    this.#entries.add({
      ...indexed,
      mtime: entry.mtime,
      offset: entry.kind === 'file' ? offset : 0,
    });
  }

  async *#kept(content: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of content) {
      this.#offset += chunk.length;
      for (let at = 0; at < chunk.length;) {
        const copied = chunk.copy(this.#buffer, this.#buffered, at);
        this.#buffered += copied;
        at += copied;
        if (this.#buffered === WRITE_BYTES) await this.#flush();
      }
      yield chunk;
    }
  }

  async #flush(): Promise<void> {
    const bytes = this.#buffer.subarray(0, this.#buffered);
    this.#blocks.update(bytes);
    this.#buffered = 0;
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
    const bundle = this.#bundle;
    const forwardable = this.#ownPaths ? undefined : this.#forwardable;
    return {
      file: this.#file,
      blocks: this.#blocks.finish(),
      entries: this.#entries,
      index: this.#entries.index,
      ...(bundle && forwardable
        ? { bundle: { ...forwardable, file: bundle.file, blocks: bundle.blocks.finish() } }
        : {}),
    };
  }

  /** Closes the file after a failed pass; the caller removes it. */
  async abort(): Promise<void> {
    await this.#handle.close().catch(() => undefined);
  }
}
