import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { ConfigurationError } from '../errors.js';
import type { Compression } from './compression.js';
import { resolveEntries, type BundleEntry } from './entries.js';
import { FrameWriter } from './frames.js';
import { encodeHeader, END_OF_ARCHIVE, MAX_MTIME, paddingAfter } from './tar.js';

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

/**
 * Packs a tree into a reproducible bundle at `destination`: entries sorted by path, parents
 * included, one mtime, uid/gid 0, no user names, modes 0755 (directories, executables), 0644
 * (other files) and 0777 (symlinks). The digest is computed while the bytes are written: one
 * pass, no second read. Memory is bounded: a few frames of the tar are held, never the tree.
 */
export async function packBundle(options: PackOptions, destination: string): Promise<PackResult> {
  if (!Number.isSafeInteger(options.mtime) || options.mtime < 0 || options.mtime > MAX_MTIME) {
    throw new ConfigurationError({
      subject: 'the bundle mtime',
      expected: `whole seconds since 1970, at most ${MAX_MTIME}`,
      got: String(options.mtime),
    });
  }
  const entries =
    'entries' in options ? options.entries : await resolveEntries(options.root, options.patterns);
  const hash = createHash('sha256');
  let size = 0;
  const output = createWriteStream(destination, { highWaterMark: 1024 * 1024 });
  const written = finished(output);
  written.catch(() => undefined);
  const frames = new FrameWriter(options.compression, async (compressed) => {
    hash.update(compressed);
    size += compressed.length;
    if (!output.write(compressed)) await Promise.race([once(output, 'drain'), written]);
  });

  try {
    let bytes = 0;
    for (const [index, entry] of entries.entries()) {
      await frames.put(encodeHeader(entry, options.mtime));
      if (entry.kind === 'file') {
        await frames.file(join(options.root, entry.path), entry.size);
        await frames.zeros(paddingAfter(entry.size));
        bytes += entry.size;
      }
      options.onProgress?.({ entries: index + 1, total: entries.length, bytes });
    }
    await frames.put(END_OF_ARCHIVE);
    await frames.finish();
    output.end();
    await written;
  } catch (error) {
    await frames.abort();
    output.destroy();
    await written.catch(() => undefined);
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
