import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FRAME_BYTES } from '../../../shared/bundle/compression.js';
import { compressStream } from '../../../shared/bundle/compress-stream.js';

/** Chunks of odd sizes, as a tar stream comes: headers, small files, a few large ones. */
function* chunks(total: number, pulled: { bytes: number } = { bytes: 0 }) {
  const sizes = [512, 7, 65_536, 1_000_003, 3, 131_072];
  for (let at = 0, n = 0; at < total; n++) {
    const size = Math.min(sizes[n % sizes.length] ?? 512, total - at);
    // Half noise, half text: something to compress, and something that does not.
    const chunk = Buffer.concat([
      randomBytes(size >> 1),
      Buffer.alloc(size - (size >> 1), `chunk ${n} `),
    ]);
    pulled.bytes += size;
    at += size;
    yield chunk;
  }
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of stream) out.push(chunk);
  return Buffer.concat(out);
}

const digest = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('compressStream', () => {
  for (const [compression, tool] of [
    ['zstd', 'zstd'],
    ['gzip', 'gzip'],
  ] as const) {
    it(`makes a stream that ${tool} -d reads back byte for byte`, async () => {
      const parts = [...chunks(3 * FRAME_BYTES + 12_345)];
      const plain = Buffer.concat(parts);
      const compressed = await collect(compressStream(parts, compression));
      expect(compressed.length).toBeLessThan(plain.length);
      const back = spawnSync(tool, ['-d', '-c'], { input: compressed, maxBuffer: 1 << 26 });
      expect(back.status).toBe(0);
      expect(digest(back.stdout)).toBe(digest(plain));
    });
  }

  it('compresses an empty stream to one that decompresses to nothing', async () => {
    const compressed = await collect(compressStream(chunks(0), 'zstd'));
    const back = spawnSync('zstd', ['-d', '-c'], { input: compressed });
    expect(back.status).toBe(0);
    expect(back.stdout.length).toBe(0);
  });

  it('reads its source only a few frames ahead of its reader', async () => {
    const pulled = { bytes: 0 };
    const stream = compressStream(chunks(100 * FRAME_BYTES, pulled), 'zstd');
    const first = await stream.next();
    expect(first.done).toBe(false);
    // The frames queued, the one being filled and the chunk that filled it: not the stream.
    expect(pulled.bytes).toBeLessThan(8 * FRAME_BYTES);
    await stream.return(undefined);
    expect(pulled.bytes).toBeLessThan(8 * FRAME_BYTES);
  });
});
