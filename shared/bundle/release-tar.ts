import type { ConfigurationError } from '../errors.js';
import { BlockChanged, CheckedReader, keptFileChanged } from './blocks.js';
import type { ContentEntry, ReleaseContent } from './content.js';
import type { FileIndex } from './file-index.js';
import { encodeHeader, END_OF_ARCHIVE, paddingAfter, writeHardLink, writeHeader } from './tar.js';

export interface ReleaseTarOptions {
  /**
   * The directory the entries go under, relative to where the host unpacks: `<id>.tmp`, or ''
   * for names relative to the release directory itself.
   */
  into: string;
  /** The base release's directory, relative to the same place: `<base id>`. */
  base?: string;
  /** Files the host hard-links from the base instead of receiving. */
  carry?: CarriedFiles;
}

/**
 * The files a host hard-links from the base release instead of receiving, kept as the shorter
 * list: the files linked, or the files that travel (for one file changed in a tree of a hundred
 * thousand, one path, not the other 99,999). Iterating it reads the whole index.
 */
export class CarriedFiles implements Iterable<string> {
  /** No file linked: a full transfer. */
  static readonly none = new CarriedFiles([], 'these', new Set(), 0);

  constructor(
    private readonly next: FileIndex,
    /** Whether `listed` are the files linked or the files of `next` that travel. */
    readonly how: 'these' | 'all but these',
    readonly listed: ReadonlySet<string>,
    /** Files linked. */
    readonly size: number,
  ) {}

  /**
   * Whether the file of the new index at `path` is linked; ask only of its files. A file whose
   * path is not plain (the host cannot name it) never is: the files that travel, listed, are
   * every one of them.
   */
  has(path: string): boolean {
    return this.listed.has(path) === (this.how === 'these');
  }

  *[Symbol.iterator](): Generator<string> {
    if (this.size === 0) return;
    for (const entry of this.next) {
      if (entry.kind === 'file' && this.has(entry.path)) yield entry.path;
    }
  }
}

/** `path` under the directory `into`; '' is the directory the host unpacks in. */
export function under(into: string, path: string): string {
  return into === '' ? path : `${into}/${path}`;
}

function changed(entry: ContentEntry): ConfigurationError {
  return keptFileChanged(
    `the files kept on the runner changed since they were verified (found reading ${entry.path})`,
  );
}

/** Bytes of tar gathered before they are handed on: headers and file bytes written in place. */
const BATCH_BYTES = 1024 * 1024;
/** Room kept for one header, pax records and all: paths are at most a few KiB. */
const HEADER_ROOM = 64 * 1024;

/**
 * The bundle's entries as a host unpacks them to make a release: each written anew under `into`
 * from what the verified pass recorded (quirks of the original archive never reach the host's
 * tar), except the files in `carry`, which become hard links to `<base>/<path>`. Without `carry`
 * it is the whole bundle: a full transfer. File bytes are read again only for the files that
 * travel, checked on the way; the stream fails if they changed. It comes in pieces of about a
 * MiB, and has no end-of-archive blocks: the index update and the release's own files follow.
 * Every piece is one buffer written again once the next piece is asked for (a release's tar is
 * as long as the bundle, and a new buffer for each MiB of it was garbage V8 frees only every
 * 64 MiB): whoever keeps a piece past that copies it or writes it first (onTheWire).
 */
export async function* releaseTar(
  content: ReleaseContent,
  options: ReleaseTarOptions,
): AsyncGenerator<Buffer> {
  const carry = options.carry ?? CarriedFiles.none;
  if (carry.size > 0 && options.base === undefined) {
    throw new Error('files to hard-link need the base release they are linked from');
  }
  const reader = await CheckedReader.open(content.file, content.blocks);
  const out = Buffer.allocUnsafe(BATCH_BYTES);
  let at = 0;
  function* handOn(room: number): Generator<Buffer> {
    if (BATCH_BYTES - at >= room) return;
    yield out.subarray(0, at);
    at = 0;
  }
  try {
    for (const entry of content.entries) {
      if (BATCH_BYTES - at < HEADER_ROOM) yield* handOn(HEADER_ROOM);
      const path = under(options.into, entry.path);
      const executable = entry.kind === 'file' && entry.mode === 0o755;
      if (entry.kind === 'file' && carry.has(entry.path)) {
        const target = `${options.base ?? ''}/${entry.path}`;
        at += writeHardLink({ path, target, executable }, entry.mtime, out, at);
        continue;
      }
      const { kind, size, linkTarget } = entry;
      at += writeHeader({ path, kind, size, executable, linkTarget }, entry.mtime, out, at);
      if (kind !== 'file') continue;
      try {
        for await (const piece of reader.read(entry.offset, size)) {
          for (let from = 0; from < piece.length;) {
            const count = Math.min(piece.length - from, BATCH_BYTES - at);
            piece.copy(out, at, from, from + count);
            at += count;
            from += count;
            yield* handOn(1);
          }
        }
      } catch (error) {
        throw error instanceof BlockChanged ? changed(entry) : error;
      }
      const padding = paddingAfter(size);
      yield* handOn(padding);
      out.fill(0, at, at + padding);
      at += padding;
    }
    if (at > 0) yield out.subarray(0, at);
  } finally {
    await reader.close();
  }
}

/** A file the release writes itself, under `.release/` or its `.env`. */
export interface ReleaseFile {
  path: '.env' | `.release/${string}`;
  content: Buffer;
  /** 0644 unless said: the `.env` is 0600 from the moment it exists. */
  mode?: number;
}

/**
 * The release's own files under `into` (its `.release/` directory came before, in the shared
 * stream), then the end of the archive.
 */
export function* releaseFilesTar(into: string, files: readonly ReleaseFile[]): Generator<Buffer> {
  const mtime = Math.floor(Date.now() / 1000);
  for (const file of files) {
    const size = file.content.length;
    const entry = { path: under(into, file.path), size, executable: false, mode: file.mode };
    yield encodeHeader({ ...entry, kind: 'file' }, mtime);
    yield file.content;
    const padding = paddingAfter(size);
    if (padding > 0) yield END_OF_ARCHIVE.subarray(0, padding);
  }
  yield END_OF_ARCHIVE;
}
