import { CarriedFiles } from '../bundle/release-tar.js';
import {
  diffLines,
  decodeField,
  indexLines,
  parseIndexLine,
  type FileIndex,
  type IndexDiff,
  type IndexUpdate,
  type IndexWithLines,
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

/** What a plan reads of an index line: its encoded path, whether it lists a file, its size. */
function fieldsOf(line: string): { key: string; file: boolean; size: number } {
  const tab = line.indexOf('\t');
  const modeEnd = line.indexOf('\t', tab + 3);
  const sizeEnd = line.indexOf('\t', modeEnd + 1);
  return {
    key: line.slice(0, tab),
    file: line.startsWith('f\t', tab + 1),
    size: Number(line.slice(modeEnd + 1, sizeEnd)),
  };
}

/** A full transfer: everything travels, and the index too. */
export function fullPlan(next: FileIndex): DeltaPlan {
  let bytes = 0;
  for (const line of indexLines(next)) bytes += fieldsOf(line).size;
  return {
    carry: CarriedFiles.none,
    sendEntries: next.length,
    sendBytes: bytes,
    carriedBytes: 0,
    update: { how: 'keep', listed: [], entries: next },
  };
}

/** The lines of `next` that travel, read again (and made entries) each time they are asked for. */
function travelling(
  next: FileIndex,
  travels: (line: string) => boolean,
  count: number,
): IndexWithLines {
  function* lines(): Generator<string> {
    for (const line of indexLines(next)) if (travels(line)) yield line;
  }
  return {
    length: count,
    lines,
    *[Symbol.iterator]() {
      for (const line of lines()) yield parseIndexLine(line);
    },
  };
}

/**
 * Links what the base has as shipped (the same path, mode, size and sha256, and not reported as
 * changed on the host), sends the rest. The host rebuilds the index from the base's lines of the
 * carried files plus the lines sent: it is told which base lines to keep, or which to drop,
 * whichever list is shorter. `diff` compares the base release's index with the new one. Two
 * passes over the index's lines (never made entries), and nothing kept for an entry but what
 * the shorter lists hold.
 */
export function deltaPlan(diff: IndexDiff, unverified: ReadonlySet<string>): DeltaPlan {
  // A linked file's path is plain: its line's first field, encoded, is the path itself.
  const linked = (key: string, matched: boolean) => matched && !unverified.has(key);
  // Base file lines not carried into the new index.
  const dropped = [...diff.unmatched];
  let carried = 0;
  let files = 0;
  let sent = 0;
  let sendBytes = 0;
  let carriedBytes = 0;
  for (const { line, linked: matched } of diffLines(diff)) {
    const { key, file, size } = fieldsOf(line);
    if (file) files++;
    if (linked(key, matched)) {
      carried++;
      carriedBytes += size;
      continue;
    }
    if (matched) dropped.push(key);
    sent++;
    sendBytes += size;
  }
  // The shorter of the files linked and the files that travel names the links, by path: a
  // linked file's is plain, one that travels may need its line's field decoded.
  const these = carried <= files - carried;
  const keep = carried <= dropped.length;
  const carriedPaths: string[] = [];
  const listed = new Set<string>();
  for (const { line, linked: matched } of diffLines(diff)) {
    const { key, file } = fieldsOf(line);
    const link = linked(key, matched);
    if (keep && link) carriedPaths.push(key);
    if (file && link === these) listed.add(decodeField(key));
  }
  const carry = new CarriedFiles(diff.next, these ? 'these' : 'all but these', listed, carried);
  const travels = (line: string) => {
    const { key, file } = fieldsOf(line);
    return !file || !carry.has(decodeField(key));
  };
  return {
    carry,
    sendEntries: sent,
    sendBytes,
    carriedBytes,
    update: {
      how: keep ? 'keep' : 'drop',
      listed: keep ? carriedPaths : dropped,
      entries: travelling(diff.next, travels, sent),
    },
  };
}
