import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decompress } from '../../../shared/bundle/compression.js';
import { decompressZstd, ZstdFormatError } from '../../../shared/bundle/zstd-frames.js';

/** Frames of `parts`, each compressed on its own, one after the other. */
function frames(parts: Buffer[], options: zlib.ZstdOptions = {}): Buffer {
  return Buffer.concat(parts.map((part) => zlib.zstdCompressSync(part, options)));
}

/** `bytes` in pieces of the given sizes (the last takes what is left). */
function* inPieces(bytes: Buffer, sizes: number[]): Generator<Buffer> {
  let at = 0;
  for (const size of sizes) {
    if (at >= bytes.length) return;
    yield bytes.subarray(at, at + size);
    at += size;
  }
  if (at < bytes.length) yield bytes.subarray(at);
}

/** Pieces as a download hands them on: one by one, each after a turn of the event loop. */
async function* arriving(pieces: Iterable<Buffer>): AsyncGenerator<Buffer> {
  for (const piece of pieces) {
    await new Promise((resolve) => setImmediate(resolve));
    yield piece;
  }
}

async function all(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const CHECKSUM = { params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 } };

describe('zstd streams of many frames', () => {
  it('are read whole where Node’s own zstd reading stops after the first frame', async () => {
    const parts = [Buffer.alloc(100, 1), Buffer.alloc(100, 2), Buffer.alloc(100, 3)];
    const stream = frames(parts);
    // What Node does with the same bytes: the frames after the first are lost, without an error.
    expect(zlib.zstdDecompressSync(stream).length).toBe(100);
    expect(await all(decompressZstd([stream], 16 * 1024))).toEqual(Buffer.concat(parts));
    expect(await all(decompress(arriving([stream]), 'zstd'))).toEqual(Buffer.concat(parts));
  });

  it('give back every byte, however the stream is cut, with or without checksums', async () => {
    const property = fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 70_000 }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 9_000 }), { maxLength: 40 }),
      fc.boolean(),
      fc.integer({ min: 64, max: 64 * 1024 }),
      async (sizes, cuts, checksum, chunkSize) => {
        const parts = sizes.map((size) => randomBytes(size));
        const stream = frames(parts, checksum ? CHECKSUM : {});
        const out = await all(decompressZstd(inPieces(stream, cuts), chunkSize));
        expect(out.equals(Buffer.concat(parts))).toBe(true);
      },
    );
    await fc.assert(property, { numRuns: 60 });
  });

  it('read the frames the zstd tool writes, whatever their headers hold', async () => {
    const text = Buffer.from('the quick brown fox\n'.repeat(5000));
    const made = [[], ['--no-check'], ['--no-content-size'], ['-19'], ['--long=24']].map((flags) =>
      execFileSync('zstd', ['-q', '-c', ...flags], { input: text }),
    );
    const stream = Buffer.concat(made);
    const out = await all(decompressZstd(inPieces(stream, [7, 1, 3, 5000]), 4096));
    expect(out.equals(Buffer.concat(made.map(() => text)))).toBe(true);
    // The tool itself reads the same stream as the same bytes.
    expect(execFileSync('zstd', ['-q', '-d', '-c'], { input: stream }).equals(out)).toBe(true);
  });

  it('pass over skippable frames, as the zstd tool does', async () => {
    const skippable = Buffer.alloc(8 + 5);
    skippable.writeUInt32LE(0x184d2a53, 0);
    skippable.writeUInt32LE(5, 4);
    const stream = Buffer.concat([
      frames([Buffer.from('a')]),
      skippable,
      frames([Buffer.from('b')]),
    ]);
    expect((await all(decompressZstd([stream], 1024))).toString()).toBe('ab');
    expect(execFileSync('zstd', ['-q', '-d', '-c'], { input: stream }).toString()).toBe('ab');
  });

  it('say where each frame lies: its bytes in the stream and the bytes it gives', async () => {
    const parts = [randomBytes(70_000), Buffer.alloc(300_000, 'z'), Buffer.from('end')];
    const skippable = Buffer.alloc(8 + 5);
    skippable.writeUInt32LE(0x184d2a50, 0);
    skippable.writeUInt32LE(5, 4);
    const compressed = parts.map((part) => zlib.zstdCompressSync(part));
    const stream = Buffer.concat([compressed[0]!, skippable, compressed[1]!, compressed[2]!]);
    const seen: { compressed: number; decompressed: number }[] = [];
    const pieces = inPieces(stream, [1000, 7, 50_000, 3]);
    await all(decompressZstd(arriving(pieces), 4096, (frame) => seen.push(frame)));
    expect(seen).toEqual([
      { compressed: compressed[0]!.length, decompressed: 70_000 },
      { compressed: 13, decompressed: 0 },
      { compressed: compressed[1]!.length, decompressed: 300_000 },
      { compressed: compressed[2]!.length, decompressed: 3 },
    ]);
  });

  it('are refused when cut short, when a frame starts wrong, or with a reserved block type', async () => {
    const stream = frames([randomBytes(3000), randomBytes(3000)], CHECKSUM);
    for (const cut of [1, 5, stream.length - 1, stream.length - 3000]) {
      await expect(all(decompressZstd([stream.subarray(0, cut)], 1024))).rejects.toThrow(
        ZstdFormatError,
      );
    }
    const wrongStart = Buffer.concat([stream, Buffer.from('tar!')]);
    await expect(all(decompressZstd([wrongStart], 1024))).rejects.toThrow(/magic number/);
    const reserved = Buffer.from(stream);
    // The first block's header follows the 4-byte magic and a header of 1 + 1 + 2 bytes.
    const headerEnd = 4 + 1 + (reserved[4]! & 0x20 ? 0 : 1) + [0, 2, 4, 8][reserved[4]! >> 6]!;
    reserved[headerEnd] = reserved[headerEnd]! | 0x06;
    await expect(all(decompressZstd([reserved], 1024))).rejects.toThrow(/reserved type/);
  });

  it('are refused by decompress() as a bundle that is not valid zstd, in one line', async () => {
    const stream = frames([randomBytes(3000)]);
    await expect(all(decompress(arriving([stream.subarray(0, 100)]), 'zstd'))).rejects.toThrow(
      /^the bundle: is not valid zstd data/,
    );
  });
});
