import { promisify } from 'node:util';
import zlib from 'node:zlib';
import {
  diffIndex,
  type FileIndex,
  type IndexEntry,
  type IndexUpdate,
} from '../bundle/file-index.js';
import { decompressZstd } from '../bundle/zstd-frames.js';
import type { Decompressor } from './scripts/tools.js';

/*
 * What travels to a host for a new release, decided on the runner from the new bundle's index,
 * the index of the host's newest release and the files of it the host could not vouch for.
 */

export interface DeltaPlan {
  /** Files hard-linked from the base release instead of sent. */
  carry: Set<string>;
  /** Entries that travel, and their file bytes. */
  sendEntries: number;
  sendBytes: number;
  /** Bytes the links save. */
  carriedBytes: number;
  /** What writeIndexScript needs to write the new release's index on the host. */
  update: IndexUpdate;
}

/** A full transfer: everything travels, and the index too. */
export function fullPlan(next: FileIndex): DeltaPlan {
  const bytes = next.reduce((sum, entry) => sum + entry.size, 0);
  return {
    carry: new Set(),
    sendEntries: next.length,
    sendBytes: bytes,
    carriedBytes: 0,
    update: { how: 'keep', listed: [], entries: next },
  };
}

/**
 * Links what the base has as shipped (the same path, mode, size and sha256, and not reported as
 * changed on the host), sends the rest. The host rebuilds the index from the base's lines of the
 * carried files plus the lines sent: it is told which base lines to keep, or which to drop,
 * whichever list is shorter. `base` is the base release's index file, as text.
 */
export function deltaPlan(
  base: string,
  unverified: ReadonlySet<string>,
  next: FileIndex,
): DeltaPlan {
  const diff = diffIndex(base, next);
  const carried: IndexEntry[] = [];
  const sent: IndexEntry[] = [...diff.send];
  // Which base file lines are carried into the new index, by their position.
  const kept = new Uint8Array(diff.baseFiles.length);
  diff.link.forEach((entry, i) => {
    if (unverified.has(entry.path)) sent.push(entry);
    else {
      carried.push(entry);
      kept[diff.linkedFrom[i] as number] = 1;
    }
  });
  // Carried paths are plain: encoded, they are themselves.
  const carry = new Set(carried.map((entry) => entry.path));
  const dropped = diff.baseFiles.filter((_, i) => kept[i] === 0);
  const keep = carried.length <= dropped.length;
  return {
    carry,
    sendEntries: sent.length,
    sendBytes: sent.reduce((sum, entry) => sum + entry.size, 0),
    carriedBytes: carried.reduce((sum, entry) => sum + entry.size, 0),
    update: {
      how: keep ? 'keep' : 'drop',
      listed: keep ? carried.map((entry) => entry.path) : dropped,
      entries: sent,
    },
  };
}

const gunzip = promisify(zlib.gunzip);

/** A script's stdout that the host compressed with its own tool. */
export async function decompressOutput(
  stdout: Buffer,
  decompressor: Decompressor | undefined,
): Promise<Buffer> {
  if (decompressor === undefined || stdout.length === 0) return stdout;
  if (decompressor === 'gzip') return gunzip(stdout);
  // Frame by frame: Node's own zstd reading stops after the first (zstd-frames.ts).
  const chunks: Buffer[] = [];
  for await (const chunk of decompressZstd([stdout], 1024 * 1024)) chunks.push(chunk);
  return Buffer.concat(chunks);
}
