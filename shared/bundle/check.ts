import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { ConfigurationError, quoted } from '../errors.js';
import { decompress, type Compression } from './compression.js';
import { BundleRules, entrySubject, normalisePath, refuseEmpty, type EntryKind } from './rules.js';
import { readTar, type TarHeader, type TarLayout } from './tar-reader.js';
import {
  encodeHeader,
  END_OF_ARCHIVE,
  headerLength,
  paddingAfter,
  writeHeader,
  type TarEntry,
} from './tar.js';
import type { ZstdFrame } from './zstd-frames.js';

/** One entry of a bundle that passed every rule. */
export interface CheckedEntry extends TarEntry {
  /** Seconds since 1970, as the archive says. */
  mtime: number;
  /** A file's bytes; read it (or leave it) before asking for the next entry. */
  content: AsyncIterable<Buffer>;
}

/**
 * How much larger than itself a bundle may expand, by default: zstd and gzip make source, text
 * and JSON 3 to 20 times smaller, rarely more; a bundle that expands a hundredfold is a zip bomb
 * far more often than an app. Small bundles may always expand to the floor.
 */
export const DEFAULT_EXPANSION_RATIO = 100;
/** What any bundle may expand to, however small: 1 GiB. */
export const DEFAULT_EXPANSION_FLOOR = 1024 ** 3;

/** The default cap on the tar inside a bundle of `bundleBytes`: a hundred times it, at least 1 GiB. */
export function defaultMaxExpandedBytes(bundleBytes: number): number {
  return Math.max(DEFAULT_EXPANSION_FLOOR, DEFAULT_EXPANSION_RATIO * bundleBytes);
}

export interface CheckOptions {
  /** Insist on one compression; by default the magic bytes decide, and a plain tar is read as is. */
  compression?: Compression;
  /** Called with `sha256:<hex>` of the bytes as they came in, once they have all been read. */
  onDigest?: (digest: string) => void;
  /**
   * The most bytes the tar inside may take, headers included: what unpacking it writes to a
   * host's disk, near enough. Default: {@link defaultMaxExpandedBytes} of the bundle file's size,
   * or the floor for a stream, whose size is not known up front.
   */
  maxExpandedBytes?: number;
  /**
   * Called once every entry passed, with where the bundle's zstd frames could go to a host as
   * they are; `undefined` when they could not (not zstd, or a tar the runner would not write).
   */
  onForwardable?: (tar: ForwardableTar | undefined) => void;
}

/**
 * A zstd bundle whose tar, before its end-of-archive blocks, is byte for byte what the runner
 * writes for the entries that passed (encodeHeader's headers, the files' bytes, zero padding),
 * as build-action writes it. A host's tar reading those bytes reads only what the runner would
 * have sent it.
 */
export interface ForwardableTar {
  /** The bundle's frames in order, skippable ones included. */
  frames: readonly ZstdFrame[];
  /** Bytes of tar before the end-of-archive blocks. */
  end: number;
}

export type BundleSource = string | AsyncIterable<Buffer>;

/**
 * Reads a bundle and yields its entries one by one, each checked before it is yielded: every
 * header field valid; only files, directories and symlinks; names and paths a host can create;
 * no absolute path, no `..`; no symlink resolving outside the bundle; nothing written twice or
 * through a symlink; the whole no larger than the cap. A refusal is a ConfigurationError thrown
 * from the iteration; what the whole bundle must satisfy (not empty, no symlink escaping through
 * other symlinks) is checked after the last entry.
 */
export async function* checkedEntries(
  source: BundleSource,
  options: CheckOptions = {},
): AsyncGenerator<CheckedEntry> {
  const { input, cap } = await opened(source, options);
  const hash = createHash('sha256');
  const forwarding = options.onForwardable ? new Forwarding() : undefined;
  const onFrame = forwarding && ((frame: ZstdFrame) => forwarding.frames.push(frame));
  const tar = capped(decompress(hashed(input, hash), options.compression, onFrame), cap);
  const rules = new BundleRules();
  let contents = 0;
  for await (const { header, raw, content } of readTar(tar, forwarding?.layout)) {
    const entry = admit(rules, header);
    forwarding?.see(raw, entry);
    if (entry === undefined) continue;
    if (entry.kind !== 'directory') contents++;
    yield { ...entry, content };
  }
  rules.finish();
  refuseEmpty(contents);
  options.onDigest?.(`sha256:${hash.digest('hex')}`);
  options.onForwardable?.(forwarding?.result());
}

/** Whether a bundle's tar is still what the runner would write, as its entries are read. */
class Forwarding {
  readonly frames: ZstdFrame[] = [];
  readonly layout: TarLayout = { zeroPadding: true, end: undefined };
  #canonical = true;
  #scratch = Buffer.alloc(0);

  /** An entry's header blocks as read, and what passed of it (nothing: a skipped `./`). */
  see(raw: readonly Buffer[], entry: Omit<CheckedEntry, 'content'> | undefined): void {
    if (!this.#canonical) return;
    this.#canonical = entry !== undefined && this.#isCanonical(raw, entry);
  }

  #isCanonical(raw: readonly Buffer[], entry: Omit<CheckedEntry, 'content'>): boolean {
    const length = headerLength(entry);
    let rawLength = 0;
    for (const block of raw) rawLength += block.length;
    if (rawLength !== length) return false;
    if (this.#scratch.length < length) this.#scratch = Buffer.alloc(length);
    writeHeader(entry, entry.mtime, this.#scratch, 0);
    let at = 0;
    for (const block of raw) {
      if (this.#scratch.compare(block, 0, block.length, at, at + block.length) !== 0) return false;
      at += block.length;
    }
    return true;
  }

  result(): ForwardableTar | undefined {
    const { end, zeroPadding } = this.layout;
    const zstd = this.frames.some((frame) => frame.decompressed > 0);
    if (!this.#canonical || !zeroPadding || end === undefined || !zstd) return undefined;
    return { frames: this.frames, end };
  }
}

async function opened(
  source: BundleSource,
  options: CheckOptions,
): Promise<{ input: AsyncIterable<Buffer>; cap: number }> {
  if (typeof source !== 'string') {
    return { input: source, cap: options.maxExpandedBytes ?? DEFAULT_EXPANSION_FLOOR };
  }
  const cap = options.maxExpandedBytes ?? defaultMaxExpandedBytes((await stat(source)).size);
  return { input: createReadStream(source, { highWaterMark: 1 << 20 }), cap };
}

async function* hashed(input: AsyncIterable<unknown>, hash: Hash): AsyncGenerator<Buffer> {
  for await (const chunk of input) {
    hash.update(chunk as Buffer);
    yield chunk as Buffer;
  }
}

async function* capped(tar: AsyncIterable<Buffer>, cap: number): AsyncGenerator<Buffer> {
  let total = 0;
  for await (const chunk of tar) {
    total += chunk.length;
    if (total > cap) {
      throw new ConfigurationError({
        subject: 'the bundle',
        problem: `expands to more than ${cap} bytes, the most allowed for it`,
        hint: 'a bundle this much larger unpacked than packed would fill a host’s disk',
      });
    }
    yield chunk;
  }
}

function admit(rules: BundleRules, header: TarHeader): Omit<CheckedEntry, 'content'> | undefined {
  const kind = entryKind(header);
  const subject = () => entrySubject(header.name);
  const path = normalisePath(header.name, subject);
  if (path === '') {
    if (kind === 'directory') return undefined;
    throw new ConfigurationError({ subject: subject(), problem: 'has no name' });
  }
  if (kind !== 'file' && header.size > 0) {
    throw new ConfigurationError({ subject: subject(), problem: `is a ${kind} with content` });
  }
  const linkTarget = kind === 'symlink' ? header.linkname : undefined;
  rules.admit(path, kind, linkTarget);
  const executable = kind === 'file' && (header.mode & 0o111) !== 0;
  const size = kind === 'file' ? header.size : 0;
  return { path, kind, size, executable, mtime: header.mtime, linkTarget };
}

const REFUSED_TYPES: Record<string, string> = {
  '1': 'a hardlink',
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a fifo',
};

function entryKind(header: TarHeader): EntryKind {
  if (header.type === '0') return 'file';
  if (header.type === '2') return 'symlink';
  if (header.type === '5') return 'directory';
  const subject = entrySubject(header.name);
  const refused = REFUSED_TYPES[header.type];
  if (refused !== undefined) {
    throw new ConfigurationError({
      subject,
      problem: `is ${refused}`,
      hint: 'a bundle holds only files, directories and symlinks',
    });
  }
  throw new ConfigurationError({
    subject,
    problem: 'has a type a bundle cannot hold',
    got: `typeflag ${quoted(header.type)}`,
  });
}

/**
 * A plain tar, rebuilt from the checked entries of a bundle, for a host that has tar but no
 * zstd. Only what passed the checks is written, with normalised headers, so quirks of the
 * original archive never reach the host's tar. On a refusal the stream fails before the tar's
 * end: the consumer must treat the extraction as failed and remove it.
 */
export function checkedTar(source: BundleSource, options: CheckOptions = {}): Readable {
  return Readable.from(repack(source, options));
}

async function* repack(source: BundleSource, options: CheckOptions): AsyncGenerator<Buffer> {
  for await (const entry of checkedEntries(source, options)) {
    yield encodeHeader(entry, entry.mtime);
    if (entry.kind !== 'file') continue;
    yield* entry.content;
    const padding = paddingAfter(entry.size);
    if (padding > 0) yield END_OF_ARCHIVE.subarray(0, padding);
  }
  yield END_OF_ARCHIVE;
}
