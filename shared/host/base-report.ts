import { pipeline, Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import zlib from 'node:zlib';
import { MAX_PATH_BYTES } from '../bundle/rules.js';
import { decompressZstd } from '../bundle/zstd-frames.js';
import type { Decompressor } from './scripts/tools.js';
import { OUTPUT_LIMIT } from './transport.js';

/*
 * The base check's report (checkBaseScript) as the runner reads it: decompressed and split into
 * lines as it comes, never held whole (an index of a large release is megabytes), and never read
 * past what a report can be, since a host's output is untrusted.
 */

/**
 * Pieces of a report read line by line: each decoded piece is a string of its own, and one
 * under V8's large-object size (128 KiB) dies young, where a larger one waits for a full
 * collection, however little of it is kept.
 */
const REPORT_PIECE = 64 * 1024;

/**
 * A script's stdout that the host compressed with its own tool (whole, or as it arrives),
 * decompressed as it is read, in pieces: an index report is megabytes once decompressed. A
 * reader that stops early does not always stop the reading of `stdout` (the zstd reading keeps
 * its source): an ArrivingOutput is told to stop by whoever reads it.
 */
export function decompressedOutput(
  stdout: Buffer | AsyncIterable<Buffer>,
  decompressor: Decompressor | undefined,
): AsyncIterable<Buffer> {
  const source = Buffer.isBuffer(stdout) ? [stdout] : stdout;
  if (decompressor === 'gzip') {
    return pipeline(Readable.from(source), zlib.createGunzip({ chunkSize: REPORT_PIECE }), () => {
      // An error ends the reading: its reader sees it.
    });
  }
  // Frame by frame: Node's own zstd reading stops after the first (zstd-frames.ts).
  if (decompressor === 'zstd') return decompressZstd(source, REPORT_PIECE);
  return pieces(source);
}

async function* pieces(source: Iterable<Buffer> | AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const bytes of source) {
    for (let at = 0; at < bytes.length; at += REPORT_PIECE) {
      yield bytes.subarray(at, at + REPORT_PIECE);
    }
  }
}

/**
 * The most of a script's stdout that may wait, arrived but not yet read: as much as a
 * transport keeps of a finished script's output.
 */
export const MAX_UNREAD = OUTPUT_LIMIT;

/**
 * A script's stdout as it arrives (`push`, then `end`), read once as it comes. What waits for
 * its reader is bounded: past MAX_UNREAD the output ends there, as if cut short (so it is no
 * report). Once its reader has stopped (`stop`), what arrives is dropped.
 */
export class ArrivingOutput implements AsyncIterable<Buffer> {
  #chunks: Buffer[] = [];
  #unread = 0;
  #ended = false;
  #wake: (() => void) | undefined;

  /** Bytes arrived and not yet read. */
  get unread(): number {
    return this.#unread;
  }

  push(chunk: Buffer): void {
    if (this.#ended) return;
    if (this.#unread + chunk.length > MAX_UNREAD) return this.end();
    this.#chunks.push(chunk);
    this.#unread += chunk.length;
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  /** The reader is done: nothing more is kept. */
  stop(): void {
    this.end();
    this.#chunks = [];
    this.#unread = 0;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      const chunk = this.#chunks.shift();
      if (chunk !== undefined) {
        this.#unread -= chunk.length;
        yield chunk;
      } else if (this.#ended) return;
      else await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}

/**
 * The longest line a report can hold: a path and a link target of PATH_MAX bytes each, every
 * byte escaped (`\xHH`), and the other fields. A longer one is not a report's.
 */
const MAX_REPORT_LINE = 2 * 4 * MAX_PATH_BYTES + 256;

/**
 * The most a report may decompress to: an index of some four million entries. The host's output
 * is untrusted; a larger one is no report, and the release is sent whole.
 */
export const MAX_REPORT_BYTES = 512 * 1024 * 1024;

/** What a reader of the base check's report is told as it reads. */
export interface ReportLines {
  /** Each line of the base's index (an index is megabytes: it is never held whole). */
  index(line: string): void;
  /** The index has ended: what follows are the paths of files not as it says. */
  indexEnd?(): void;
}

/**
 * Reads checkBaseScript's output line by line as it comes: the base's index lines go to
 * `lines.index`, the paths of its files that are not as the index says are gathered. `end()`
 * gives those paths, or undefined when the output was cut short or is not a report.
 */
export class BaseCheckReader {
  readonly #marker: string;
  readonly #end: string;
  readonly #lines: ReportLines;
  readonly #unverified = new Set<string>();
  #section: 'index' | 'unverified' | 'done' | 'other' = 'index';
  #rest = '';

  constructor(nonce: string, lines: ReportLines) {
    this.#marker = `${nonce} unverified`;
    this.#end = `${nonce} end`;
    this.#lines = lines;
  }

  /** Whether what was read so far can still be a report. */
  get plausible(): boolean {
    return this.#section !== 'other';
  }

  /** The next piece of the output, decoded. */
  push(text: string): void {
    if (this.#section === 'other') return;
    const all = this.#rest + text;
    let from = 0;
    for (let at = all.indexOf('\n'); at !== -1; from = at + 1, at = all.indexOf('\n', from)) {
      this.#line(all.slice(from, at));
    }
    this.#rest = all.slice(from);
    if (this.#rest.length > MAX_REPORT_LINE) this.#other();
  }

  end(): Set<string> | undefined {
    return this.#section === 'done' && this.#rest === '' ? this.#unverified : undefined;
  }

  #line(line: string): void {
    if (this.#section === 'index') {
      if (line !== this.#marker) this.#lines.index(line);
      else {
        this.#section = 'unverified';
        this.#lines.indexEnd?.();
      }
    } else if (this.#section === 'unverified') {
      if (line === this.#end) this.#section = 'done';
      else if (line !== '') this.#unverified.add(line);
    } else this.#other();
  }

  #other(): void {
    this.#section = 'other';
    this.#rest = '';
    this.#unverified.clear();
  }
}

/**
 * BaseCheckReader over the output's bytes, decoded as UTF-8 as they come; stops reading, with no
 * report, at MAX_REPORT_BYTES or once the output cannot be a report.
 */
export async function readBaseCheck(
  output: AsyncIterable<Buffer> | Iterable<Buffer>,
  nonce: string,
  lines: ReportLines,
): Promise<Set<string> | undefined> {
  const reader = new BaseCheckReader(nonce, lines);
  const decoder = new StringDecoder('utf8');
  let bytes = 0;
  for await (const chunk of output) {
    bytes += chunk.length;
    if (bytes > MAX_REPORT_BYTES) return undefined;
    reader.push(decoder.write(chunk));
    if (!reader.plausible) return undefined;
  }
  reader.push(decoder.end());
  return reader.end();
}
