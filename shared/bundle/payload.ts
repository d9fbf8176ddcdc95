import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Compression } from './compression.js';
import { compressStream } from './compress-stream.js';
import type { ReleaseContent } from './content.js';
import { serializeIndex, type FileIndex } from './file-index.js';
import { releaseTar, type ReleaseTarOptions } from './release-tar.js';
import { Spool } from './spool.js';

/**
 * A tar comes in pieces of 512 bytes (headers) and of a few KiB (small files); written one by
 * one, each would be an SSH packet and a system call of its own, which slows ssh2 from over a
 * hundred MB/s to a few (bench/ssh.ts). Pieces are gathered into writes of this size.
 */
const WRITE_BYTES = 256 * 1024;

async function* batched(source: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let size = 0;
  for await (const item of source) {
    const chunk: Buffer = item;
    pending.push(chunk);
    size += chunk.length;
    if (size < WRITE_BYTES) continue;
    yield pending.length === 1 ? chunk : Buffer.concat(pending, size);
    pending = [];
    size = 0;
  }
  if (size > 0) yield Buffer.concat(pending, size);
}

/** A tar as it goes on the wire: compressed in frames, or a plain tar in large writes. */
export function onTheWire(
  tar: AsyncIterable<Buffer> | Iterable<Buffer>,
  wire: Compression | undefined,
): AsyncGenerator<Buffer> {
  return wire ? compressStream(tar, wire) : batched(tar);
}

export interface PlanStream extends ReleaseTarOptions {
  /** How the host reads it: zstd, gzip, or a plain tar. */
  wire: Compression | undefined;
}

/** One host's read of a release stream, and how far it has got. */
export interface StreamRead {
  chunks: AsyncGenerator<Buffer>;
  /** Bytes of tar this read has passed on so far, estimated from the compressed bytes. */
  tarSent(): number;
}

interface Made {
  spool: Spool;
  /** Bytes of tar made so far: all of it once the spool is done. */
  tar: { bytes: number };
}

/**
 * What travels to the hosts for one verified release: its content (file bytes and entries,
 * recorded in the pass that verified the bundle) and the streams made from it. A stream is made
 * once per distinct plan (the same base, the same files linked, the same wire compression) and
 * spooled in `directory`; every host with that plan reads the one copy, so eight hosts on the
 * same release cost one pass and one compression, not eight.
 */
export class ReleasePayload {
  readonly #made = new Map<string, Made>();
  #indexFile: { text: string; sha256: string } | undefined;

  constructor(
    readonly content: ReleaseContent,
    private readonly directory: string,
  ) {}

  get index(): FileIndex {
    return this.content.index;
  }

  /** `.release/index` as the runner makes it, and its sha256: what a host's must be. */
  get indexFile(): { text: string; sha256: string } {
    if (this.#indexFile === undefined) {
      const text = serializeIndex(this.content.index);
      this.#indexFile = { text, sha256: createHash('sha256').update(text).digest('hex') };
    }
    return this.#indexFile;
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
      tarSent: () =>
        made.spool.done && wireRead === made.spool.written
          ? made.tar.bytes
          : Math.round((wireRead * made.tar.bytes) / Math.max(1, made.spool.written)),
    };
  }

  #make(plan: PlanStream): Made {
    const carried = [...(plan.carry ?? [])].sort().join('\n');
    const key = createHash('sha256')
      .update(JSON.stringify([plan.into, plan.base ?? '', plan.wire ?? 'tar', carried]))
      .digest('hex');
    const known = this.#made.get(key);
    if (known) return known;
    const tar = { bytes: 0 };
    const content = this.content;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const chunk of releaseTar(content, plan)) {
        tar.bytes += chunk.length;
        yield chunk;
      }
    }
    const file = path.join(this.directory, `stream-${this.#made.size + 1}`);
    const made = { spool: new Spool(file, onTheWire(counted(), plan.wire)), tar };
    this.#made.set(key, made);
    return made;
  }
}
