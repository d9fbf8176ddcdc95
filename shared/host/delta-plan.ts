import { CarriedFiles } from '../bundle/release-tar.js';
import {
  diffEntries,
  type FileIndex,
  type IndexDiff,
  type IndexEntry,
  type IndexUpdate,
} from '../bundle/file-index.js';

/*
 * What travels to a host for a new release, decided on the runner from the new bundle's index,
 * the index of the host's newest release and the files of it the host could not vouch for.
 */

export interface DeltaPlan {
  /** Files hard-linked from the base release instead of sent. */
  carry: CarriedFiles;
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
  let bytes = 0;
  for (const entry of next) bytes += entry.size;
  return {
    carry: CarriedFiles.none,
    sendEntries: next.length,
    sendBytes: bytes,
    carriedBytes: 0,
    update: { how: 'keep', listed: [], entries: next },
  };
}

/** The entries of `next` for which `travels` holds, read again each time they are asked for. */
function filtered(
  next: FileIndex,
  travels: (entry: IndexEntry) => boolean,
  count: number,
): FileIndex {
  return {
    length: count,
    *[Symbol.iterator]() {
      for (const entry of next) if (travels(entry)) yield entry;
    },
  };
}

/**
 * Links what the base has as shipped (the same path, mode, size and sha256, and not reported as
 * changed on the host), sends the rest. The host rebuilds the index from the base's lines of the
 * carried files plus the lines sent: it is told which base lines to keep, or which to drop,
 * whichever list is shorter. `diff` compares the base release's index with the new one. Two
 * passes over the index, and nothing kept for an entry but what the shorter lists hold.
 */
export function deltaPlan(diff: IndexDiff, unverified: ReadonlySet<string>): DeltaPlan {
  const linked = (entry: IndexEntry, matched: boolean) => matched && !unverified.has(entry.path);
  // Base file lines not carried into the new index. A linked path is plain: encoded, it is itself.
  const dropped = [...diff.unmatched];
  let carried = 0;
  let files = 0;
  let sent = 0;
  let sendBytes = 0;
  let carriedBytes = 0;
  for (const { entry, linked: matched } of diffEntries(diff)) {
    if (entry.kind === 'file') files++;
    if (linked(entry, matched)) {
      carried++;
      carriedBytes += entry.size;
      continue;
    }
    if (matched) dropped.push(entry.path);
    sent++;
    sendBytes += entry.size;
  }
  // The shorter of the files linked and the files that travel names the links.
  const these = carried <= files - carried;
  const keep = carried <= dropped.length;
  const carriedPaths: string[] = [];
  const carrySet = new Set<string>();
  for (const { entry, linked: matched } of diffEntries(diff)) {
    const link = linked(entry, matched);
    if (keep && link) carriedPaths.push(entry.path);
    if (entry.kind === 'file' && link === these) carrySet.add(entry.path);
  }
  const carry = new CarriedFiles(diff.next, these ? 'these' : 'all but these', carrySet, carried);
  return {
    carry,
    sendEntries: sent,
    sendBytes,
    carriedBytes,
    update: {
      how: keep ? 'keep' : 'drop',
      listed: keep ? carriedPaths : dropped,
      entries: filtered(
        diff.next,
        (entry) => entry.kind !== 'file' || !carry.has(entry.path),
        sent,
      ),
    },
  };
}
