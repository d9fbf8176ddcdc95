import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Compression } from './compression.js';
import { compressStream } from './compress-stream.js';
import type { ReleaseContent } from './content.js';
import { INDEX_HEADER, indexLines, type FileIndex, type IndexUpdate } from './file-index.js';
import { forwardedStream } from './forward.js';
import { releaseTar, under, type ReleaseTarOptions } from './release-tar.js';
import { encodeHeader, END_OF_ARCHIVE, paddingAfter } from './tar.js';
import { Spool } from './spool.js';

/**
 * A tar comes in pieces of 512 bytes (headers) and of a few KiB (small files); written one by
 * one, each would be an SSH packet and a system call of its own, which slows ssh2 from over a
 * hundred MB/s to a few (bench/ssh.ts). Pieces are gathered into writes of this size.
 */
const WRITE_BYTES = 256 * 1024;

/**
 * Pieces gathered into writes of WRITE_BYTES. A piece as large is handed on as it is, to be
 * written before the next is asked for; a smaller one is copied, as it is kept while the next is
 * asked for, and a source may write its buffer again then (releaseTar does).
 */
async function* batched(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let size = 0;
  for await (const item of source) {
    const chunk: Buffer = item;
    if (size === 0 && chunk.length >= WRITE_BYTES) {
      yield chunk;
      continue;
    }
    pending.push(Buffer.from(chunk));
    size += chunk.length;
    if (size < WRITE_BYTES) continue;
    yield Buffer.concat(pending, size);
    pending = [];
    size = 0;
  }
  if (size > 0) yield Buffer.concat(pending, size);
}

/**
 * A tar as it goes on the wire: compressed in frames, or a plain tar in large writes. A piece of
 * `tar` may be overwritten once the next is asked for: compressed, each is copied into a frame
 * at once; plain, a piece of a whole write is handed on as it is, so whoever reads a plain tar
 * writes each piece before asking for the next (the Spool does).
 */
export function onTheWire(
  tar: AsyncIterable<Buffer> | Iterable<Buffer>,
  wire: Compression | undefined,
): AsyncGenerator<Buffer> {
  return wire ? compressStream(tar, wire) : batched(tar);
}

export interface PlanStream extends ReleaseTarOptions {
  /** How the host reads it: zstd, gzip, or a plain tar. */
  wire: Compression | undefined;
  /** What makes the new release's index from its base's: `.release/index.update`. */
  update: IndexUpdate;
}

/** One host's read of a release stream, and how far it has got. */
export interface StreamRead {
  chunks: AsyncGenerator<Buffer>;
  /** Splits the index update, and is what the release's completion file must hold. */
  nonce: string;
  /** Bytes of tar this read has passed on so far, estimated from the compressed bytes. */
  tarSent(): number;
  /** The stream is the bundle's own zstd frames (forwardedStream), not compressed here. */
  forwarded: boolean;
}

interface Made {
  spool: Spool;
  forwarded: boolean;
  nonce: string;
  /** Bytes of tar made so far: all of it once the spool is done. */
  tar: { bytes: number };
}

/** Text in pieces of about this size: an index of a large release is megabytes. */
const PIECE_BYTES = 64 * 1024;

function* pieces(lines: Iterable<string>): Generator<Buffer> {
  let pending: string[] = [];
  let size = 0;
  for (const line of lines) {
    pending.push(line, '\n');
    size += line.length + 1;
    if (size < PIECE_BYTES) continue;
    yield Buffer.from(pending.join(''));
    pending = [];
    size = 0;
  }
  if (size > 0) yield Buffer.from(pending.join(''));
}

/** The lines of an index update: the base lines listed, the nonce, the lines sent. */
function* updateLines(update: IndexUpdate, nonce: string): Generator<string> {
  yield* update.listed;
  yield nonce;
  yield* indexLines(update.entries);
}

/** The release's `.release/` and its index update, written in pieces as it is read. */
function* updateTar(into: string, update: IndexUpdate, nonce: string): Generator<Buffer> {
  const mtime = Math.floor(Date.now() / 1000);
  const directory = under(into, '.release');
  yield encodeHeader({ path: directory, kind: 'directory', size: 0, executable: false }, mtime);
  let size = 0;
  for (const line of updateLines(update, nonce)) size += Buffer.byteLength(line) + 1;
  const path = `${directory}/index.update`;
  yield encodeHeader({ path, kind: 'file', size, executable: false }, mtime);
  yield* pieces(updateLines(update, nonce));
  const padding = paddingAfter(size);
  if (padding > 0) yield END_OF_ARCHIVE.subarray(0, padding);
}

/**
 * What travels to the hosts for one verified release: its content (file bytes and entries,
 * recorded in the pass that verified the bundle) and the streams made from it. A stream is made
 * once per distinct plan (the same base, the same files linked, the same index update, the same
 * wire compression) and spooled in `directory`; every host with that plan reads the one copy,
 * so eight hosts on the same release cost one pass and one compression, not eight. A full
 * transfer in zstd, with names relative to the release directory, is the bundle's own frames
 * when it can be (forwardedStream): no compression at all.
 */
export class ReleasePayload {
  readonly #made = new Map<string, Made>();
  #indexDigest: string | undefined;

  constructor(
    readonly content: ReleaseContent,
    private readonly directory: string,
  ) {}

  get index(): FileIndex {
    return this.content.index;
  }

  /** `.release/index` as the runner makes it, in pieces: the index is sorted already. */
  indexFile(): Generator<Buffer> {
    const index = this.content.index;
    function* lines(): Generator<string> {
      yield INDEX_HEADER;
      yield* indexLines(index);
    }
    return pieces(lines());
  }

  /** The sha256 of `.release/index`: what a host's must hash to. */
  get indexDigest(): string {
    if (this.#indexDigest === undefined) {
      const hash = createHash('sha256');
      for (const piece of this.indexFile()) hash.update(piece);
      this.#indexDigest = hash.digest('hex');
    }
    return this.#indexDigest;
  }

  read(plan: PlanStream): StreamRead {
    const made = this.#make(plan);
    let wireRead = 0;
    async function* chunks(): AsyncGenerator<Buffer> {
      for await (const chunk of made.spool.read()) {
        wireRead += chunk.length;
        yield chunk;
      }
    }
    return {
      chunks: chunks(),
      nonce: made.nonce,
      forwarded: made.forwarded,
      tarSent: () =>
        made.spool.done && wireRead === made.spool.written
          ? made.tar.bytes
          : Math.round((wireRead * made.tar.bytes) / Math.max(1, made.spool.written)),
    };
  }

  #make(plan: PlanStream): Made {
    const key = planKey(plan);
    const known = this.#made.get(key);
    if (known) return known;
    const tar = { bytes: 0 };
    const nonce = randomBytes(16).toString('hex');
    const content = this.content;
    const update = updateTar(plan.into, plan.update, nonce);
    async function* counted(): AsyncGenerator<Buffer> {
      for (const part of [releaseTar(content, plan), update]) {
        for await (const chunk of part) {
          tar.bytes += chunk.length;
          yield chunk;
        }
      }
    }
    const bundle = content.bundle;
    // The bundle's names are relative to the release: only a stream unpacked in it can be it.
    const forward =
      bundle !== undefined && plan.wire === 'zstd' && plan.into === '' && plan.base === undefined;
    const wire = forward
      ? forwardedStream(bundle, update, (bytes) => (tar.bytes += bytes))
      : onTheWire(counted(), plan.wire);
    const file = path.join(this.directory, `stream-${this.#made.size + 1}`);
    const made = { spool: new Spool(file, wire), forwarded: forward, nonce, tar };
    this.#made.set(key, made);
    return made;
  }
}

/** What makes two plans' streams the same, hashed as it is read: the lists can be long. */
function planKey(plan: PlanStream): string {
  const hash = createHash('sha256');
  const field = (value: string) => hash.update(value).update('\0');
  [plan.into, plan.base ?? '', plan.wire ?? 'tar', plan.update.how].forEach(field);
  const carry = plan.carry;
  if (carry !== undefined && carry.size > 0) {
    field(carry.how);
    carry.listed.forEach(field);
  }
  field('listed');
  plan.update.listed.forEach(field);
  // The lines sent are the index's entries less the files carried, which the carry names: their
  // count is enough, where their paths were a pass over the whole index for each plan.
  field(`sent ${plan.update.entries.length}`);
  return hash.digest('hex');
}
