import { compressFrame, WIRE_OUTPUT_CHUNK, type Compression } from './compression.js';
import { FrameWriter } from './frames.js';

/**
 * Compresses a stream for the wire as packing compresses a bundle: cut into frames compressed
 * on their own in libuv's pool, several at once, emitted in order. zstd and gzip read the
 * concatenated frames (members) as one stream. Memory holds a few frames, whatever the length
 * of the stream; a slow reader slows the source down, nothing piles up.
 */
export async function* compressStream(
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
  compression: Compression,
): AsyncGenerator<Buffer> {
  const ready: Buffer[] = [];
  const frames = new FrameWriter(
    compression,
    (compressed) => {
      ready.push(compressed);
      return Promise.resolve();
    },
    WIRE_OUTPUT_CHUNK,
  );
  let finished = false;
  let empty = true;
  try {
    for await (const item of source) {
      const chunk: Buffer = item;
      empty &&= chunk.length === 0;
      await frames.put(chunk);
      while (ready.length > 0) yield ready.shift() as Buffer;
    }
    await frames.finish();
    finished = true;
    while (ready.length > 0) yield ready.shift() as Buffer;
    // No frame at all is not a stream `zstd -d` or `gzip -d` accepts; an empty frame is.
    if (empty) yield await compressFrame(Buffer.alloc(0), compression);
  } finally {
    // Compressions still running write into frames the pool hands out again: let them end.
    if (!finished) await frames.abort();
  }
}
