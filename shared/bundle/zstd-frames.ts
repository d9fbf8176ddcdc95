import { Readable, pipeline } from 'node:stream';
import zlib from 'node:zlib';

/*
 * Decompressing a zstd stream of many frames (a bundle is one frame per 2 MiB of tar) one frame
 * at a time. Node's zstd decompressing stream takes a frame's end, with input left in the same
 * write, for the end of the data: it ends its output there and drops the rest without an error
 * (lib/zlib.js, processCallback: "the input stream has ended early"). Whether a write holds a
 * frame's end and more depends on how the bytes arrived, so a bundle came out cut short at a
 * frame's end now and then. Here the stream is split at its frames' ends, walking their block
 * headers (RFC 8878), and each frame is decompressed by a stream of its own.
 */

/** A piece of a zstd stream: bytes of one frame, the last of that frame or not. */
interface FramePiece {
  bytes: Buffer;
  /** The frame ends with this piece. */
  last: boolean;
  /** A skippable frame: its bytes are passed over, as zstd passes them over. */
  skippable: boolean;
}

/** One frame of a zstd stream as it was read. */
export interface ZstdFrame {
  /** Its bytes in the stream. */
  compressed: number;
  /** The bytes it decompresses to: 0 for a skippable frame. */
  decompressed: number;
}

/** A stream that is not zstd as RFC 8878 lays it out. */
export class ZstdFormatError extends Error {}

const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

type State =
  /** Reading a frame's magic number. */
  | { at: 'magic' }
  /** Reading a skippable frame's size, then passing over its bytes. */
  | { at: 'skippable-size' }
  | { at: 'skipping'; left: number }
  /** Reading the frame header's descriptor, then the rest of the header. */
  | { at: 'descriptor' }
  | { at: 'header'; left: number; checksum: boolean }
  /** Reading a block's header, then its content. */
  | { at: 'block-header'; checksum: boolean }
  | { at: 'block'; left: number; last: boolean; checksum: boolean }
  /** Reading the frame's checksum after its last block. */
  | { at: 'checksum'; left: number };

/** The bytes of each field read whole before it is looked at. */
const FIELD_BYTES = { magic: 4, 'skippable-size': 4, descriptor: 1, 'block-header': 3 } as const;

/** Splits a zstd stream at its frames' ends, as the bytes come. */
class ZstdFrameSplitter {
  #state: State = { at: 'magic' };
  /** Bytes of a field read so far: a magic number, a descriptor, a block header. */
  #field: number[] = [];
  #skippable = false;

  /** The pieces of `chunk`, cut where frames end. */
  push(chunk: Buffer): FramePiece[] {
    const pieces: FramePiece[] = [];
    let start = 0;
    let at = 0;
    while (at < chunk.length) {
      const ended = this.#step(chunk, at);
      at = ended.at;
      if (ended.frameEnded) {
        pieces.push({ bytes: chunk.subarray(start, at), last: true, skippable: this.#skippable });
        start = at;
      }
    }
    if (start < chunk.length) {
      pieces.push({ bytes: chunk.subarray(start), last: false, skippable: this.#skippable });
    }
    return pieces;
  }

  /** Throws unless the stream ended between frames. */
  end(): void {
    if (this.#state.at !== 'magic' || this.#field.length > 0) {
      throw new ZstdFormatError('the data ends inside a frame');
    }
  }

  /** Reads from `at` as far as the current field or run of bytes goes. */
  #step(chunk: Buffer, at: number): { at: number; frameEnded: boolean } {
    const state = this.#state;
    switch (state.at) {
      case 'skipping':
      case 'block':
      case 'checksum':
      case 'header': {
        const count = Math.min(state.left, chunk.length - at);
        state.left -= count;
        if (state.left > 0) return { at: at + count, frameEnded: false };
        return { at: at + count, frameEnded: this.#after(state) };
      }
      default: {
        const size = FIELD_BYTES[state.at];
        while (this.#field.length < size && at < chunk.length) this.#field.push(chunk[at++] ?? 0);
        if (this.#field.length < size) return { at, frameEnded: false };
        const field = this.#field;
        this.#field = [];
        return { at, frameEnded: this.#read(field) };
      }
    }
  }

  /** A field read whole: moves to what follows it; true when that ends a frame. */
  #read(field: number[]): boolean {
    const state = this.#state;
    const value = (field[0] ?? 0) | ((field[1] ?? 0) << 8) | ((field[2] ?? 0) << 16);
    switch (state.at) {
      case 'magic': {
        const magic = (value | ((field[3] ?? 0) << 24)) >>> 0;
        if (magic === FRAME_MAGIC) {
          this.#skippable = false;
          this.#state = { at: 'descriptor' };
        } else if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
          this.#skippable = true;
          this.#state = { at: 'skippable-size' };
        } else {
          throw new ZstdFormatError('a frame does not start with zstd’s magic number');
        }
        return false;
      }
      case 'skippable-size': {
        const left = (value | ((field[3] ?? 0) << 24)) >>> 0;
        this.#state = { at: 'skipping', left };
        return left === 0 ? this.#after(this.#state) : false;
      }
      case 'descriptor': {
        const descriptor = value;
        if ((descriptor & 0x08) !== 0)
          throw new ZstdFormatError('a frame header sets its reserved bit');
        const singleSegment = (descriptor & 0x20) !== 0;
        const fcsFlag = descriptor >> 6;
        const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag] ?? 0;
        const dictionaryBytes = [0, 1, 2, 4][descriptor & 0x03] ?? 0;
        const left = (singleSegment ? 0 : 1) + dictionaryBytes + fcsBytes;
        const checksum = (descriptor & 0x04) !== 0;
        this.#state = { at: 'header', left, checksum };
        return left === 0 ? this.#after(this.#state) : false;
      }
      case 'block-header': {
        const last = (value & 1) === 1;
        const type = (value >> 1) & 3;
        const size = value >>> 3;
        if (type === 3) throw new ZstdFormatError('a block has the reserved type');
        const left = type === 1 ? 1 : size;
        this.#state = { at: 'block', left, last, checksum: state.checksum };
        return left === 0 ? this.#after(this.#state) : false;
      }
      default:
        return false;
    }
  }

  /** A run of bytes read whole: moves to what follows it; true when that ends a frame. */
  #after(state: State): boolean {
    switch (state.at) {
      case 'header':
        this.#state = { at: 'block-header', checksum: state.checksum };
        return false;
      case 'block':
        if (!state.last) {
          this.#state = { at: 'block-header', checksum: state.checksum };
          return false;
        }
        if (state.checksum) {
          this.#state = { at: 'checksum', left: 4 };
          return false;
        }
        this.#state = { at: 'magic' };
        return true;
      default:
        this.#state = { at: 'magic' };
        return true;
    }
  }
}

/** The pieces of a zstd stream, cut where its frames end; throws if it ends inside one. */
async function* splitZstdFrames(
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
): AsyncGenerator<FramePiece> {
  const splitter = new ZstdFrameSplitter();
  for await (const chunk of source) yield* splitter.push(chunk);
  splitter.end();
}

/** One frame's bytes, from its first piece to its last. */
async function* frameBytes(
  pieces: AsyncIterator<FramePiece>,
  first: FramePiece,
): AsyncGenerator<Buffer> {
  let piece = first;
  if (piece.bytes.length > 0) yield piece.bytes;
  while (!piece.last) {
    const next = await pieces.next();
    if (next.done) throw new ZstdFormatError('the data ends inside a frame');
    piece = next.value;
    if (piece.bytes.length > 0) yield piece.bytes;
  }
}

/**
 * Decompresses a zstd stream of any number of frames, each by a stream of its own, checking
 * that each took its frame whole. `chunkSize`: the bytes each piece of output holds at most;
 * `onFrame` is told of each frame once its output has all been handed on.
 */
export async function* decompressZstd(
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
  chunkSize: number,
  onFrame?: (frame: ZstdFrame) => void,
): AsyncGenerator<Buffer> {
  const pieces = splitZstdFrames(source)[Symbol.asyncIterator]();
  for (let next = await pieces.next(); !next.done; next = await pieces.next()) {
    const first = next.value;
    if (first.skippable) {
      let compressed = 0;
      for await (const skipped of frameBytes(pieces, first)) compressed += skipped.length;
      onFrame?.({ compressed, decompressed: 0 });
      continue;
    }
    let frameLength = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const bytes of frameBytes(pieces, first)) {
        frameLength += bytes.length;
        yield bytes;
      }
    }
    const decompressor = zlib.createZstdDecompress({ chunkSize });
    let done!: (error: Error | null | undefined) => void;
    const settled = new Promise<Error | null | undefined>((resolve) => (done = resolve));
    const output = pipeline(Readable.from(counted()), decompressor, (error) => done(error));
    let decompressed = 0;
    for await (const chunk of output) {
      decompressed += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
    const failure = await settled;
    if (failure) throw failure;
    // A frame the library took for whole before its last byte: the rest would be lost.
    if (decompressor.bytesWritten !== frameLength) {
      throw new ZstdFormatError('a frame ends before the end its blocks give');
    }
    onFrame?.({ compressed: frameLength, decompressed });
  }
}
