import type { FileIndex, IndexDiff, IndexEntry, IndexUpdate } from '../bundle/file-index.js';

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
 * whichever list is shorter. `diff` compares the base release's index with the new one.
 */
export function deltaPlan(diff: IndexDiff, unverified: ReadonlySet<string>): DeltaPlan {
  const carried: IndexEntry[] = [];
  const sent: IndexEntry[] = [...diff.send];
  // Base file lines not carried into the new index. A linked path is plain: encoded, it is itself.
  const dropped = [...diff.unmatched];
  for (const entry of diff.link) {
    if (unverified.has(entry.path)) {
      sent.push(entry);
      dropped.push(entry.path);
    } else carried.push(entry);
  }
  const carry = new Set(carried.map((entry) => entry.path));
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
