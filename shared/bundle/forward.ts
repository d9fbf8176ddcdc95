import type { ConfigurationError } from '../errors.js';
import { BlockChanged, CheckedReader, keptFileChanged } from './blocks.js';
import { DECOMPRESS_CHUNK } from './compression.js';
import { compressStream } from './compress-stream.js';
import type { ForwardableBundle } from './content.js';
import { decompressZstd } from './zstd-frames.js';

/**
 * A full transfer of a bundle whose tar is what the runner would write (ForwardableTar), to a
 * host that reads zstd: the bundle's own frames, as they are, up to the one that holds the end
 * of its entries; that frame's entries and then `tail` (the release's own entries, and the end
 * of the archive) compressed anew. The host's stream costs the runner no compression but that
 * of a frame or two. The bundle file is read once, each block checked against what was verified.
 * `onTar` is told of the bytes of tar as they go.
 */
export async function* forwardedStream(
  bundle: ForwardableBundle,
  tail: Iterable<Buffer> | AsyncIterable<Buffer>,
  onTar: (bytes: number) => void,
): AsyncGenerator<Buffer> {
  const reader = await CheckedReader.open(bundle.file, bundle.blocks);
  try {
    let compressedAt = 0;
    let tarAt = 0;
    let index = 0;
    for (; index < bundle.frames.length; index++) {
      const frame = bundle.frames[index]!;
      if (tarAt + frame.decompressed > bundle.end) break;
      yield* copies(reader.read(compressedAt, frame.compressed));
      compressedAt += frame.compressed;
      tarAt += frame.decompressed;
      onTar(frame.decompressed);
    }
    const last = bundle.frames[index];
    const before = bundle.end - tarAt;
    const head =
      last === undefined || before === 0
        ? []
        : headOf(copies(reader.read(compressedAt, last.compressed)), before);
    async function* rest(): AsyncGenerator<Buffer> {
      for (const part of [head, tail]) {
        for await (const chunk of part) {
          onTar(chunk.length);
          yield chunk;
        }
      }
    }
    yield* compressStream(rest(), 'zstd');
  } catch (error) {
    throw error instanceof BlockChanged ? changed() : error;
  } finally {
    await reader.close();
  }
}

/** The reader's pieces, each copied: they are only good until its next read. */
async function* copies(pieces: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const piece of pieces) yield Buffer.from(piece);
}

/** The first `count` bytes a frame decompresses to; the rest is decompressed and dropped. */
async function* headOf(frame: AsyncIterable<Buffer>, count: number): AsyncGenerator<Buffer> {
  let left = count;
  for await (const chunk of decompressZstd(frame, DECOMPRESS_CHUNK)) {
    if (left === 0) continue;
    const taken = chunk.length > left ? chunk.subarray(0, left) : chunk;
    left -= taken.length;
    yield taken;
  }
  if (left > 0) throw changed();
}

function changed(): ConfigurationError {
  return keptFileChanged('the bundle file kept on the runner changed since it was verified');
}
