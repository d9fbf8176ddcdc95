import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EntryTable, type TableEntry } from '../../../shared/bundle/entry-table.js';
import {
  diffIndex,
  indexLine,
  isPlainPath,
  sortIndex,
  type IndexEntry,
} from '../../../shared/bundle/file-index.js';
import { deltaPlan } from '../../../shared/host/delta-plan.js';
import { serializeIndex } from './host/delta-helpers.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

const file = (path: string, content: string, mode = 0o644): IndexEntry => ({
  path,
  kind: 'file',
  mode,
  size: content.length,
  sha256: sha(content),
});

function tableOf(entries: readonly TableEntry[]): EntryTable {
  const table = new EntryTable();
  for (const entry of entries) table.add(entry);
  return table;
}

const placed = (entry: IndexEntry, at: number): TableEntry => ({
  ...entry,
  mtime: 1_700_000_000 + at,
  offset: at * 3_000_000_000,
});

describe('the entries a verified bundle keeps', () => {
  it('gives back every entry as it was added, in the bundle’s order, as often as it is read', () => {
    const entries = [
      { path: 'a', kind: 'directory', mode: 0o755, size: 0 } as IndexEntry,
      file('a/b.js', 'x'.repeat(5000), 0o755),
      { path: 'a/l', kind: 'symlink', mode: 0o777, size: 0, linkTarget: '-' } as IndexEntry,
      {
        path: 'a/m',
        kind: 'symlink',
        mode: 0o777,
        size: 0,
        linkTarget: 'tab\there\\',
      } as IndexEntry,
      file('é/ü\nx', ''),
    ].map(placed);
    const table = tableOf(entries);
    expect(table).toHaveLength(5);
    const read = [...table];
    expect(read).toEqual(entries);
    expect([...table]).toEqual(read);
    expect(read.map(indexLine)).toEqual(entries.map(indexLine));
  });

  it('packs lines into buffers of a MiB, and a line longer than one into a buffer of its own', () => {
    const entries = Array.from({ length: 12_000 }, (_, at) =>
      placed(file(`dir/${String(at).padStart(6, '0')}-${'n'.repeat(at % 200)}`, String(at)), at),
    );
    const long = placed(
      {
        ...file('z', ''),
        kind: 'symlink',
        mode: 0o777,
        size: 0,
        sha256: undefined,
        linkTarget: 'y'.repeat(1_200_000),
      },
      12_000,
    );
    const table = tableOf([...entries, long]);
    expect([...table]).toEqual([...entries, long]);
  });

  it('is its own index when the bundle came in index order, and is sorted when it did not', () => {
    const inOrder = tableOf(
      ['a', 'a/b', 'a0', 'b'].map((path, at) => placed(file(path, path), at)),
    );
    expect(inOrder.index).not.toBeInstanceOf(Array);
    expect([...inOrder.index].map((entry) => entry.path)).toEqual(['a', 'a/b', 'a0', 'b']);
    // Raw bytes put 0x01 before '0'; escaped, `\x01` comes after it.
    const raw = tableOf([placed(file('a\x01', 'x'), 0), placed(file('a0', 'y'), 1)]);
    expect([...raw.index].map((entry) => entry.path)).toEqual(['a0', 'a\x01']);
    expect([...raw].map((entry) => entry.path)).toEqual(['a\x01', 'a0']);
  });
});

/** What deltaPlan must decide, computed the plain way: a map of the base's lines by path. */
function expectedPlan(
  base: readonly IndexEntry[],
  next: readonly IndexEntry[],
  unverified: Set<string>,
) {
  const baseLines = new Map(base.map((entry) => [entry.path, indexLine(entry)]));
  const carried = next.filter(
    (entry) =>
      entry.kind === 'file' &&
      isPlainPath(entry.path) &&
      baseLines.get(entry.path) === indexLine(entry) &&
      !unverified.has(entry.path),
  );
  const carriedPaths = new Set(carried.map((entry) => entry.path));
  const sent = next.filter((entry) => !carriedPaths.has(entry.path) || entry.kind !== 'file');
  return { carried: carried.map((entry) => entry.path), sent: sent.map((entry) => entry.path) };
}

describe('a delta plan', () => {
  const names = fc.constantFrom('a', 'b', 'c', 'd/e', 'd/f', 'g\\h', 'i j', 'k', 'l/m/n');
  const entry = fc.record({
    path: names,
    kind: fc.constantFrom('file', 'file', 'file', 'symlink'),
    content: fc.constantFrom('1', '2'),
    mode: fc.constantFrom(0o644, 0o755),
  });
  const index = fc
    .uniqueArray(entry, { selector: (value) => value.path, maxLength: 9 })
    .map((values) =>
      sortIndex(
        values.map(({ path, kind, content, mode }) =>
          kind === 'file'
            ? file(path, content, mode)
            : { path, kind, mode: 0o777, size: 0, linkTarget: content },
        ),
      ),
    );

  it('links exactly the files a map of the base index would, and lists the shorter side', () => {
    fc.assert(
      fc.property(
        index,
        index,
        fc.boolean(),
        fc.subarray(['a', 'b', 'd/e', 'k']),
        (other, nextEntries, alike, odd) => {
          // Half the time a base much like the new index, so that most files are linked and the
          // files that travel are the shorter list.
          const kept = nextEntries.filter((_, at) => at % 3 !== 2);
          const base = alike
            ? sortIndex([
                ...kept,
                ...other.filter((entry) => !kept.some((one) => one.path === entry.path)),
              ])
            : other;
          const unverified = new Set(odd);
          const next = tableOf(nextEntries.map(placed)).index;
          const plan = deltaPlan(diffIndex(serializeIndex(base), next), unverified);
          const expected = expectedPlan(base, nextEntries, unverified);
          expect([...plan.carry]).toEqual(expected.carried);
          expect(plan.carry.size).toBe(expected.carried.length);
          expect(plan.carry.listed.size).toBeLessThanOrEqual(
            nextEntries.filter((value) => value.kind === 'file').length / 2,
          );
          expect([...plan.update.entries].map((value) => value.path)).toEqual(expected.sent);
          expect(plan.sendEntries).toBe(expected.sent.length);
          const bytes = (paths: string[]) =>
            nextEntries
              .filter((value) => paths.includes(value.path))
              .reduce((sum, value) => sum + value.size, 0);
          expect(plan.sendBytes).toBe(bytes(expected.sent));
          expect(plan.carriedBytes).toBe(bytes(expected.carried));
          if (plan.update.how === 'keep') expect(plan.update.listed).toEqual(expected.carried);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('sends what a base line out of order names, as one from an index not written the canonical way', () => {
    const next = sortIndex([file('a', '1'), file('b', '2'), file('c', '3')]);
    const lines = serializeIndex(next).split('\n');
    // The header, then c, a, b: a and b come after c, where the walk has passed them.
    const shuffled = [lines[0], lines[3], lines[1], lines[2], ''].join('\n');
    const plan = deltaPlan(diffIndex(shuffled, next), new Set());
    expect([...plan.carry]).toEqual(['c']);
    expect(plan.update.how).toBe('keep');
    expect(plan.update.listed).toEqual(['c']);
  });
});
