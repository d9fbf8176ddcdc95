import { Readable } from 'node:stream';
import { ConfigurationError } from '../errors.js';
import type { Compression } from './compression.js';
import { compressStream } from './compress-stream.js';
import { encodeHeader, END_OF_ARCHIVE, entryMode, paddingAfter } from './tar.js';
import { checkedEntries, type BundleSource } from './check.js';

const BLOCK = 512;

/**
 * A hard-link entry: `path` made a second name of the file already at `target`, both relative
 * to where the archive is unpacked. Written as a symlink's header (which carries a long target
 * in a pax record) turned into type `1`, with the file's own mode: a tar that applies modes to
 * hard links must not change the file it links to.
 */
export function hardLinkHeader(
  path: string,
  target: string,
  options: { executable: boolean; mtime: number },
): Buffer {
  const header = encodeHeader(
    { path, kind: 'symlink', size: 0, executable: false, linkTarget: target },
    options.mtime,
  );
  const block = header.subarray(header.length - BLOCK);
  block.write('1', 156, 1, 'latin1');
  const mode = entryMode('file', options.executable);
  block.write(mode.toString(8).padStart(7, '0'), 100, 7, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return header;
}

export interface ReleaseStreamOptions {
  /** The directory the entries go under, relative to where the host unpacks: `<id>.tmp`. */
  into: string;
  /** The base release's directory, relative to the same place: `<base id>`. */
  base?: string;
  /** Files of the bundle the host hard-links from the base instead of receiving. */
  carry?: ReadonlySet<string>;
  /** The bundle's compression, as its manifest says. */
  compression?: Compression;
  /** `sha256:<hex>` the bundle must still have: the stream fails before its end otherwise. */
  expectedDigest?: string;
  /** Compresses the stream for the wire; a plain tar without it. */
  wire?: Compression;
  /** Told the tar's bytes as they go, before compression: for progress. */
  onTar?: (bytes: number) => void;
}

/**
 * The tar a host unpacks to make a release: every entry of the bundle checked again and written
 * anew under `into` (quirks of the original archive never reach the host's tar), except the
 * files in `carry`, which become hard links to `<base>/<path>`. Without `carry` it is the whole
 * bundle: a full transfer. A refusal or a digest that changed fails the stream before the end
 * of the archive; the caller must then fail the transfer and remove `into`, since a tar cut at
 * an entry's end can look whole to the host's tar.
 */
export function releaseStream(source: BundleSource, options: ReleaseStreamOptions): Readable {
  const tar = counted(entriesOf(source, options), options.onTar);
  return Readable.from(options.wire ? compressStream(tar, options.wire) : batched(tar));
}

/**
 * A tar comes in pieces of 512 bytes (headers) and of a few KiB (small files); written one by
 * one, each would be an SSH packet and a system call of its own, which slows ssh2 from over a
 * hundred MB/s to a few (bench/ssh.ts). Pieces are gathered into writes of this size.
 */
const WRITE_BYTES = 256 * 1024;

async function* batched(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    pending.push(chunk);
    size += chunk.length;
    if (size < WRITE_BYTES) continue;
    yield pending.length === 1 ? chunk : Buffer.concat(pending, size);
    pending = [];
    size = 0;
  }
  if (size > 0) yield Buffer.concat(pending, size);
}

async function* counted(
  source: AsyncIterable<Buffer>,
  count: ((bytes: number) => void) | undefined,
): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    count?.(chunk.length);
    yield chunk;
  }
}

async function* entriesOf(
  source: BundleSource,
  options: ReleaseStreamOptions,
): AsyncGenerator<Buffer> {
  const carry = options.carry ?? new Set<string>();
  if (carry.size > 0 && options.base === undefined) {
    throw new Error('files to hard-link need the base release they are linked from');
  }
  let digest = '';
  const entries = checkedEntries(source, {
    compression: options.compression,
    onDigest: (value) => (digest = value),
  });
  for await (const entry of entries) {
    const path = `${options.into}/${entry.path}`;
    if (entry.kind === 'file' && carry.has(entry.path)) {
      const target = `${options.base ?? ''}/${entry.path}`;
      yield hardLinkHeader(path, target, entry);
      continue;
    }
    yield encodeHeader({ ...entry, path }, entry.mtime);
    if (entry.kind !== 'file') continue;
    yield* entry.content;
    const padding = paddingAfter(entry.size);
    if (padding > 0) yield END_OF_ARCHIVE.subarray(0, padding);
  }
  if (options.expectedDigest !== undefined && digest !== options.expectedDigest) {
    throw new ConfigurationError({
      subject: 'bundle',
      problem: 'changed since it was verified',
      expected: options.expectedDigest,
      got: digest,
    });
  }
  yield END_OF_ARCHIVE;
}
