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

/** Entries in canonical order: by their line in the index file, byte by byte. */
export type FileIndex = readonly IndexEntry[];

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
  /** Entries the host cannot take from the base index: their lines are sent. */
  entries: readonly IndexEntry[];
}

export interface IndexDiff {
  /** Entries of the new release that travel: new or changed files, directories, symlinks. */
  send: IndexEntry[];
  /** Files of the new release that are, byte for byte and mode, files of the base release. */
  link: IndexEntry[];
  /** The encoded paths of the base's file lines that no entry of `link` matched, in its order. */
  unmatched: string[];
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
 * come (an index is megabytes: it is never held whole): a file whose line (path, mode, size and
 * sha256) is a line of the base index is hard-linked (if the host still has it as shipped);
 * every other file travels. Lines are compared as text, never parsed: a base line that is not
 * well formed matches no line the runner writes, so what it names travels. Directories and
 * symlinks always travel: they are a tar header each. A file whose path the host cannot name
 * plainly (a backslash or a control character in it) always travels. A path the base lists more
 * than once (an index not written by us) is matched by the first of its lines that fits.
 */
export class IndexDiffer {
  readonly #next: FileIndex;
  /** The new release's files the host can name plainly, by path: their position in `next`. */
  readonly #files = new Map<string, number>();
  /** For each entry of `next`, whether a base line matched it. */
  readonly #matched: Uint8Array;
  readonly #unmatched: string[] = [];
  #lines = 0;

  constructor(next: FileIndex) {
    this.#next = next;
    this.#matched = new Uint8Array(next.length);
    next.forEach((entry, at) => {
      if (entry.kind === 'file' && isPlainPath(entry.path)) this.#files.set(entry.path, at);
    });
  }

  /** One line of the base index, without its newline; throws when the first is not the header. */
  line(line: string): void {
    if (this.#lines++ === 0) {
      if (line !== INDEX_HEADER) throw notAnIndex();
      return;
    }
    const path = filePath(line);
    if (path === undefined) return;
    const at = this.#files.get(path);
    if (at !== undefined && this.#matched[at] === 0 && isLineOf(line, this.#next[at]!)) {
      this.#matched[at] = 1;
    } else this.#unmatched.push(path);
  }

  /** What the lines given so far say; throws when there were none. */
  finish(): IndexDiff {
    if (this.#lines === 0) throw notAnIndex();
    const send: IndexEntry[] = [];
    const link: IndexEntry[] = [];
    this.#next.forEach((entry, at) => (this.#matched[at] === 1 ? link : send).push(entry));
    return { send, link, unmatched: this.#unmatched };
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

const TAB = 0x09;
const DASH = 0x2d;

/**
 * Whether `line`, a file line whose path is `entry`'s, is character for character the index line
 * of `entry`: the fields after the kind compared in place, without making the line.
 */
function isLineOf(line: string, entry: IndexEntry): boolean {
  const mode = entry.mode.toString(8);
  const size = String(entry.size);
  const sha256 = entry.sha256 ?? '-';
  let at = entry.path.length + 3;
  if (!line.startsWith(mode, at) || line.charCodeAt(at + mode.length) !== TAB) return false;
  at += mode.length + 1;
  if (!line.startsWith(size, at) || line.charCodeAt(at + size.length) !== TAB) return false;
  at += size.length + 1;
  if (!line.startsWith(sha256, at) || line.charCodeAt(at + sha256.length) !== TAB) return false;
  at += sha256.length + 1;
  return line.length === at + 1 && line.charCodeAt(at) === DASH;
}
