import { Readable, pipeline } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { ConfigurationError } from '../errors.js';
import { decompressZstd, ZstdFormatError, type ZstdFrame } from './zstd-frames.js';

export type Compression = 'zstd' | 'gzip';

/**
 * Tar bytes per compressed frame. Each frame is compressed on its own in libuv's pool, which is
 * how packing keeps up with `zstd -T0`; zstd, gzip and every tar that calls them read
 * concatenated frames (gzip members) as one stream. Node's zstd streams are not used: with
 * worker threads they fail (nodejs/node#59899), and `end()` with writes queued appends an empty
 * frame (nodejs/node#66078), which would make the bytes depend on timing.
 */
export const FRAME_BYTES = 2 * 1024 * 1024;

const ZSTD_LEVEL = 3;
const GZIP_LEVEL = 6;
/** The OS byte of a gzip header: zlib writes the platform it was built for; Unix everywhere. */
const GZIP_OS_UNIX = 3;

const zstdCompress = promisify(zlib.zstdCompress);
const gzip = promisify(zlib.gzip);

/**
 * Output a compression of the runner's streams writes at once. zlib allocates its output buffer
 * at the `chunkSize` it is given and copies the result out: sized for the frame (2 MiB), each
 * frame left 2 MiB of garbage that V8 frees only every 64 MiB of it, where a frame of text
 * compresses to a few hundred KiB, one or two of these. Each more piece is a trip to libuv's
 * pool and back, though: packing, where the frames may not compress at all and memory is not
 * kept down, asks for the frame's size, one trip.
 */
export const WIRE_OUTPUT_CHUNK = 256 * 1024;

/**
 * One frame: a complete zstd frame or gzip member of its own. `outputChunk`: the bytes of each
 * piece of output zlib writes; by default all of it at once.
 */
export async function compressFrame(
  data: Buffer,
  compression: Compression,
  outputChunk = data.length + 1024,
): Promise<Buffer> {
  const chunkSize = Math.min(data.length + 1024, outputChunk);
  if (compression === 'zstd') {
    return zstdCompress(data, {
      chunkSize,
      params: {
        [zlib.constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL,
        [zlib.constants.ZSTD_c_checksumFlag]: 1,
      },
    });
  }
  const member = await gzip(data, { level: GZIP_LEVEL, chunkSize });
  member[9] = GZIP_OS_UNIX;
  return member;
}

/**
 * Bytes a decompressing stream hands out at once. Each piece is a trip to libuv's pool and back:
 * at zlib's default of 16 KiB, a 1 GiB bundle is 65,536 of them, and the trips, not the work,
 * set the pace.
 */
export const DECOMPRESS_CHUNK = 512 * 1024;

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/** What the first bytes of a bundle say it is compressed with; `undefined` for a plain tar. */
export function detectCompression(head: Buffer): Compression | undefined {
  if (head.subarray(0, 4).equals(ZSTD_MAGIC)) return 'zstd';
  if (head.subarray(0, 2).equals(GZIP_MAGIC)) return 'gzip';
  return undefined;
}

/**
 * Decompresses a bundle: zstd or gzip as its magic bytes say, or as `expected` insists; a plain
 * tar passes through when nothing is expected. `onFrame` is told of each zstd frame.
 */
export async function* decompress(
  source: AsyncIterable<Buffer>,
  expected?: Compression,
  onFrame?: (frame: ZstdFrame) => void,
): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLength = 0;
  while (headLength < ZSTD_MAGIC.length) {
    const next = await iterator.next();
    if (next.done) break;
    head.push(next.value);
    headLength += next.value.length;
  }
  const first = Buffer.concat(head);
  const found = detectCompression(first);
  if (expected !== undefined && found !== expected) {
    throw new ConfigurationError({
      subject: 'the bundle',
      expected: `${expected}-compressed data`,
      got: `data that starts like ${found ?? 'a plain tar'}`,
    });
  }
  async function* all(): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      yield next.value;
    }
  }
  if (found === undefined) {
    yield* all();
    return;
  }
  // zstd frame by frame (zstd-frames.ts); gzip's stream reads member after member itself.
  const output =
    found === 'zstd'
      ? decompressZstd(all(), DECOMPRESS_CHUNK, onFrame)
      : pipeline(
          Readable.from(all()),
          zlib.createGunzip({ chunkSize: DECOMPRESS_CHUNK }),
          () => undefined,
        );
  try {
    for await (const chunk of output) yield chunk as Buffer;
  } catch (error) {
    // zlib's own errors say the data is bad; anything else (a read error) passes unchanged.
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (!(error instanceof ZstdFormatError) && !/^(Z_|ZSTD_error_)/.test(code)) throw error;
    throw new ConfigurationError({
      subject: 'the bundle',
      problem: `is not valid ${found} data`,
      got: (error as Error).message,
    });
  }
}
