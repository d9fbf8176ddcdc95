import { createHash } from 'node:crypto';
import { compareUtf8, type EntryKind } from './rules.js';
import { entryMode } from './tar.js';

/*
 * The index of a release's files, kept on the host as `.release/index` (compressed, as
 * `index.zst` or `index.gz`, when the host has zstd or gzip): what each entry of the bundle is
 * (kind, mode, size, sha256 of a file's bytes, a symlink's target). Comparing the index
 * of the host's newest release with the new bundle's tells which files can be hard-linked from
 * that release and which must travel; checking the host's files against its index tells which
 * of them are still what was shipped.
 */

export interface IndexEntry {
  /** Components joined by `/`, as the bundle names the entry. */
  path: string;
  kind: EntryKind;
  /** As unpacked: 0644 or 0755 for files, 0755 for directories, 0777 for symlinks. */
  mode: number;
  /** Bytes of a file; 0 for the other kinds. */
  size: number;
  /** Hex sha256 of a file's bytes. */
  sha256?: string;
  linkTarget?: string;
}

/**
 * Entries in canonical order: by their line in the index file, byte by byte. Read in that order,
 * as often as needed; an array is one, and so is a bundle's EntryTable's index, which makes each
 * entry as it is read.
 */
export interface FileIndex extends Iterable<IndexEntry> {
  readonly length: number;
}

/** The first line of an index file: its format, so a later one can be told apart. */
export const INDEX_HEADER = 'brr-index 1';

const KIND_LETTER: Record<EntryKind, string> = { file: 'f', directory: 'd', symlink: 'l' };

/** What a field cannot hold as it is: a backslash and the control characters. */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\\\x00-\x1f\x7f]/;
const ESCAPES = new RegExp(NEEDS_ESCAPE.source, 'g');

/**
 * A path or link target as one field of a line: a backslash becomes `\\`, control characters
 * `\xHH`; all else, UTF-8 included, stays as it is. A field that holds a backslash is therefore
 * one the host cannot compare with its own file names, and such a file always travels.
 */
export function encodeField(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(ESCAPES, (char) =>
    char === '\\' ? '\\\\' : `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

export function decodeField(field: string): string {
  if (!field.includes('\\')) return field;
  return field.replace(/\\(\\|x([0-9a-f]{2}))/g, (_, escape: string, hex?: string) =>
    hex === undefined ? escape : String.fromCharCode(Number.parseInt(hex, 16)),
  );
}

/** Whether the host can find this entry by name: its encoded path is the path itself. */
export function isPlainPath(path: string): boolean {
  return !NEEDS_ESCAPE.test(path);
}

/** One line of the index: path, kind, mode, size, sha256, link target; tab-separated. */
export function indexLine(entry: IndexEntry): string {
  const target = entry.linkTarget === undefined ? '-' : encodeField(entry.linkTarget);
  return `${encodeField(entry.path)}\t${KIND_LETTER[entry.kind]}\t${entry.mode.toString(8)}\t${entry.size}\t${entry.sha256 ?? '-'}\t${target}`;
}

const KIND_OF_LETTER: Record<string, EntryKind> = { f: 'file', d: 'directory', l: 'symlink' };

/** The entry an index line written by indexLine describes. */
export function parseIndexLine(line: string): IndexEntry {
  const [field, letter, mode, size, sha256, target] = line.split('\t');
  const kind = KIND_OF_LETTER[letter ?? ''];
  if (field === undefined || kind === undefined || target === undefined) {
    throw new Error(`not an index line: ${JSON.stringify(line.slice(0, 200))}`);
  }
  return {
    path: decodeField(field),
    kind,
    mode: Number.parseInt(mode ?? '', 8),
    size: Number(size),
    sha256: sha256 === '-' ? undefined : sha256,
    linkTarget: kind === 'symlink' ? decodeField(target) : undefined,
  };
}

/** A file index whose lines can be read as they are, without making an entry of each. */
export interface IndexWithLines extends FileIndex {
  lines(): Iterable<string>;
}

function hasLines(index: FileIndex): index is IndexWithLines {
  return typeof (index as Partial<IndexWithLines>).lines === 'function';
}

/** The index lines of `index`, in its order. */
export function indexLines(index: FileIndex): Iterable<string> {
  if (hasLines(index)) return index.lines();
  return (function* () {
    for (const entry of index) yield indexLine(entry);
  })();
}

/** What an index needs of a checked bundle entry; a file's content is read to hash it. */
export interface IndexableEntry {
  path: string;
  kind: EntryKind;
  size: number;
  executable: boolean;
  linkTarget?: string;
  content?: AsyncIterable<Buffer>;
}

/** The index entry of a checked bundle entry, reading a file's content to hash it. */
export async function indexEntry(entry: IndexableEntry): Promise<IndexEntry> {
  const mode = entryMode(entry.kind, entry.executable);
  if (entry.kind !== 'file') {
    return {
      path: entry.path,
      kind: entry.kind,
      mode,
      size: 0,
      ...(entry.kind === 'symlink' ? { linkTarget: entry.linkTarget ?? '' } : {}),
    };
  }
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of entry.content ?? []) {
    hash.update(chunk);
    size += chunk.length;
  }
  if (size !== entry.size) {
    throw new Error(
      `bundle entry '${entry.path}' held ${size} bytes, its header says ${entry.size}`,
    );
  }
  return { path: entry.path, kind: 'file', mode, size, sha256: hash.digest('hex') };
}

/**
 * Entries in the order of their lines' bytes. Paths are unique and a line is the encoded path,
 * a tab, then the rest; encoded paths hold no byte below a space, so a path before another
 * (byte by byte, a prefix first) is a line before the other: only paths are compared, as
 * UTF-8, and encoded only when they need it. Entries already in that order are returned as
 * they are: a bundle build-action packed is (it sorts paths by their bytes), unless a path
 * needs escaping, and a copy sorted again would be one more array and an object for each
 * entry, megabytes for a large tree.
 */
export function sortIndex<T extends IndexEntry>(entries: readonly T[]): readonly T[] {
  if (inIndexOrder(entries)) return entries;
  return entries
    .map((entry) => ({ entry, key: encodeField(entry.path) }))
    .sort((a, b) => compareUtf8(a.key, b.key))
    .map(({ entry }) => entry);
}

function inIndexOrder(entries: readonly IndexEntry[]): boolean {
  let previous: string | undefined;
  for (const entry of entries) {
    const key = encodeField(entry.path);
    if (previous !== undefined && compareUtf8(previous, key) >= 0) return false;
    previous = key;
  }
  return true;
}

/**
 * How a release's index is made on the host from its base's: which base lines to keep (or to
 * drop: whichever list is shorter), and the entries whose lines are sent.
 */
export interface IndexUpdate {
  how: 'keep' | 'drop';
  /** Encoded paths of base file lines to keep (or to drop). */
  listed: readonly string[];
  /** Entries the host cannot take from the base index, in index order: their lines are sent. */
  entries: FileIndex;
}

export interface IndexDiff {
  /** The new release's index. */
  next: FileIndex;
  /**
   * For each entry of `next`, in its order: 1 if it is a file that is, byte for byte and mode,
   * a file of the base release; every other entry travels (new or changed files, directories,
   * symlinks).
   */
  linked: Uint8Array;
  /** The encoded paths of the base's file lines that no linked entry matched, in its order. */
  unmatched: string[];
}

/** Each line of a diff's new index, and whether it matched a file of the base. */
export function* diffLines(diff: IndexDiff): Generator<{ line: string; linked: boolean }> {
  let at = 0;
  for (const line of indexLines(diff.next)) yield { line, linked: diff.linked[at++] === 1 };
}

/** The encoded path of an index line that lists a file, or undefined for another line. */
function filePath(line: string): string | undefined {
  const tab = line.indexOf('\t');
  return tab > 0 && line.startsWith('f\t', tab + 1) ? line.slice(0, tab) : undefined;
}

function notAnIndex(): Error {
  return new Error(`not a release index (expected '${INDEX_HEADER}' and whole lines)`);
}

/**
 * What a release built from a base release needs, from the lines of the base's index as they
 * come (an index is megabytes: it is never held whole), walked beside the new index's lines, as
 * both are in the same order: a file whose line (path, mode, size and sha256) is the line of the
 * new index with that path is hard-linked (if the host still has it as shipped); every other
 * file travels. Lines are compared as text, never parsed: a base line that is not well formed
 * matches no line the runner writes, so what it names travels, and so does what a base line out
 * of order names (an index not written by us). Directories and symlinks always travel: they are
 * a tar header each. A file whose path the host cannot name plainly (a backslash or a control
 * character in it) always travels. A path the base lists more than once is matched by the first
 * of its lines that fits. What is kept as it goes is a byte for each new entry and the paths of
 * base files not matched.
 */
export class IndexDiffer {
  readonly #next: FileIndex;
  readonly #lines: Iterator<string>;
  /** The new index's line the base's lines have reached, its encoded path and its position. */
  #line: string | undefined;
  #key = '';
  #at = -1;
  /** For each entry of `next`, whether a base line matched it. */
  readonly #matched: Uint8Array;
  readonly #unmatched: string[] = [];
  #baseLines = 0;

  constructor(next: FileIndex) {
    this.#next = next;
    this.#matched = new Uint8Array(next.length);
    this.#lines = indexLines(next)[Symbol.iterator]();
    this.#advance();
  }

  #advance(): void {
    const next = this.#lines.next();
    this.#line = next.done === true ? undefined : next.value;
    this.#key = this.#line?.slice(0, this.#line.indexOf('\t')) ?? '';
    this.#at++;
  }

  /** One line of the base index, without its newline; throws when the first is not the header. */
  line(line: string): void {
    if (this.#baseLines++ === 0) {
      if (line !== INDEX_HEADER) throw notAnIndex();
      return;
    }
    const path = filePath(line);
    if (path === undefined) return;
    while (this.#line !== undefined && compareUtf8(this.#key, path) < 0) this.#advance();
    const at = this.#at;
    if (this.#line === line && this.#matched[at] === 0 && isPlainPath(path)) {
      this.#matched[at] = 1;
    } else this.#unmatched.push(path);
  }

  /** What the lines given so far say; throws when there were none. */
  finish(): IndexDiff {
    if (this.#baseLines === 0) throw notAnIndex();
    return { next: this.#next, linked: this.#matched, unmatched: this.#unmatched };
  }
}

/** IndexDiffer over an index file held whole, as text; throws when it is not an index file. */
export function diffIndex(base: string, next: FileIndex): IndexDiff {
  if (!base.endsWith('\n')) throw notAnIndex();
  const differ = new IndexDiffer(next);
  for (
    let from = 0, at = base.indexOf('\n');
    at !== -1;
    from = at + 1, at = base.indexOf('\n', from)
  ) {
    differ.line(base.slice(from, at));
  }
  return differ.finish();
}
