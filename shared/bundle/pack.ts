import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { pack as tarPack, type Pack } from 'tar-stream';
import { ConfigurationError } from '../errors.js';
import { compressFrames, type Compression } from './compression.js';
import { resolveEntries, type BundleEntry } from './entries.js';
import { addTarEntry, tarHeader } from './tar.js';

export interface PackProgress {
  /** Entries written so far, of `total`. */
  entries: number;
  total: number;
  /** File bytes read so far. */
  bytes: number;
}

export type PackOptions = {
  root: string;
  compression: Compression;
  /** Every entry's mtime, in seconds: the commit time or SOURCE_DATE_EPOCH. */
  mtime: number;
  onProgress?: (progress: PackProgress) => void;
} & ({ patterns: readonly string[] } | { entries: readonly BundleEntry[] });

export interface PackResult {
  /** `sha256:<hex>` of the compressed bundle, byte for byte. */
  digest: string;
  /** Bytes of the compressed bundle. */
  size: number;
  files: number;
  directories: number;
  symlinks: number;
  /** The distinct first path components, sorted: what lands at the top of a release. */
  topLevel: string[];
}

/** Files up to this size are read whole, ahead of the writer; larger ones are streamed. */
const SMALL_FILE = 1024 * 1024;
/** Bounds on reading ahead, so memory stays flat however large the tree. */
const READ_AHEAD_BYTES = 8 * 1024 * 1024;
const READ_AHEAD_FILES = 64;
const LARGE_READ = 1024 * 1024;

/**
 * Packs a tree into a reproducible bundle at `destination`: entries sorted by path, parents
 * included, one mtime, uid/gid 0, no user names, modes 0755 (directories, executables), 0644
 * (other files) and 0777 (symlinks). The digest is computed while the bytes are written: one
 * pass, no second read. Memory is bounded: files are streamed, never held all at once.
 */
export async function packBundle(options: PackOptions, destination: string): Promise<PackResult> {
  if (!Number.isSafeInteger(options.mtime) || options.mtime < 0) {
    throw new ConfigurationError(
      `bundle mtime ${String(options.mtime)} is not a whole number of seconds since 1970`,
    );
  }
  const entries =
    'entries' in options ? options.entries : await resolveEntries(options.root, options.patterns);
  const pack = tarPack();
  const hash = createHash('sha256');
  let size = 0;
  const output = createWriteStream(destination, { highWaterMark: 1024 * 1024 });
  const writing = finished(output);

  const produce = writeEntries(pack, options, entries).catch((error: unknown) => {
    pack.destroy(error as Error);
    throw error;
  });
  const consume = (async () => {
    for await (const frame of compressFrames(pack as AsyncIterable<Buffer>, options.compression)) {
      hash.update(frame);
      size += frame.length;
      if (!output.write(frame)) await once(output, 'drain');
    }
    output.end();
    await writing;
  })().catch((error: unknown) => {
    pack.destroy(error as Error);
    throw error;
  });

  try {
    await Promise.all([produce, consume]);
  } catch (error) {
    output.destroy();
    await writing.catch(() => undefined);
    await rm(destination, { force: true });
    throw error;
  }

  const count = (kind: BundleEntry['kind']) => entries.filter((e) => e.kind === kind).length;
  return {
    digest: `sha256:${hash.digest('hex')}`,
    size,
    files: count('file'),
    directories: count('directory'),
    symlinks: count('symlink'),
    topLevel: [...new Set(entries.map((entry) => entry.path.split('/')[0] as string))].sort(),
  };
}

async function writeEntries(
  pack: Pack,
  options: PackOptions,
  entries: readonly BundleEntry[],
): Promise<void> {
  const mtime = new Date(options.mtime * 1000);
  const reader = new ReadAhead(options.root, entries);
  let bytes = 0;
  for (const [index, entry] of entries.entries()) {
    const header = tarHeader(entry, mtime);
    if (entry.kind !== 'file') await addTarEntry(pack, header);
    else if (entry.size <= SMALL_FILE) await addTarEntry(pack, header, await reader.take(index));
    else await addTarEntry(pack, header, fileChunks(join(options.root, entry.path), entry.size));
    bytes += entry.size;
    options.onProgress?.({ entries: index + 1, total: entries.length, bytes });
  }
  pack.finalize();
}

/** A large file's bytes, the next chunk read while the previous one is being packed. */
async function* fileChunks(source: string, size: number): AsyncGenerator<Buffer> {
  const handle = await open(source, 'r');
  const read = async (remaining: number): Promise<Buffer> => {
    const chunk = Buffer.allocUnsafe(Math.min(LARGE_READ, remaining));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
    if (bytesRead === 0) throw changedWhilePacking(source);
    return bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead);
  };
  let next: Promise<Buffer> | undefined = read(size);
  try {
    let remaining = size;
    while (next !== undefined) {
      const chunk: Buffer = await next;
      remaining -= chunk.length;
      next = remaining > 0 ? read(remaining) : undefined;
      yield chunk;
    }
  } finally {
    await next?.catch(() => undefined);
    await handle.close();
  }
}

function changedWhilePacking(source: string): ConfigurationError {
  return new ConfigurationError(
    `'${source}' changed size while it was packed; run the build command before packing`,
  );
}

/** Reads small files ahead of the tar writer, bounded in bytes and in files. */
class ReadAhead {
  readonly #root: string;
  readonly #small: BundleEntry[];
  readonly #indices: number[];
  readonly #pending: Promise<Buffer>[] = [];
  #next = 0;
  #bytes = 0;

  constructor(root: string, entries: readonly BundleEntry[]) {
    this.#root = root;
    this.#small = [];
    this.#indices = [];
    for (const [index, entry] of entries.entries()) {
      if (entry.kind === 'file' && entry.size <= SMALL_FILE) {
        this.#small.push(entry);
        this.#indices.push(index);
      }
    }
  }

  /** The content of the small file at `index` of the entries; taken in order. */
  async take(index: number): Promise<Buffer> {
    this.#fill();
    const expected = this.#indices[this.#next - this.#pending.length];
    if (expected !== index) throw new Error(`read ahead out of order at entry ${index}`);
    const content = await (this.#pending.shift() as Promise<Buffer>);
    this.#bytes -= content.length;
    this.#fill();
    return content;
  }

  #fill(): void {
    while (
      this.#next < this.#small.length &&
      (this.#pending.length === 0 ||
        (this.#pending.length < READ_AHEAD_FILES && this.#bytes < READ_AHEAD_BYTES))
    ) {
      const entry = this.#small[this.#next++] as BundleEntry;
      this.#bytes += entry.size;
      const content = readSmall(join(this.#root, entry.path), entry.size);
      content.catch(() => undefined);
      this.#pending.push(content);
    }
  }
}

async function readSmall(source: string, size: number): Promise<Buffer> {
  const handle = await open(source, 'r');
  try {
    // One byte more than expected: a file that grew is caught by the same single read.
    const content = Buffer.allocUnsafe(size + 1);
    let filled = 0;
    while (filled <= size) {
      const wanted = size + 1 - filled;
      const { bytesRead } = await handle.read(content, filled, wanted, null);
      filled += bytesRead;
      if (bytesRead < wanted) break;
    }
    if (filled !== size) throw changedWhilePacking(source);
    return content.subarray(0, size);
  } finally {
    await handle.close();
  }
}
