import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { decompress } from '../../../shared/bundle/compression.js';
import { onTheWire } from '../../../shared/bundle/payload.js';
import { Spool } from '../../../shared/bundle/spool.js';
import { CarriedFiles } from '../../../shared/bundle/release-tar.js';
import { readTar } from '../../../shared/bundle/tar-reader.js';
import { fullPlan } from '../../../shared/host/delta-plan.js';
import { payloadOf } from '../../helpers/payload.js';
import { tempDir } from './bundle-helpers.js';
import { bundleOf } from './host/delta-helpers.js';

const collect = async (chunks: AsyncIterable<Buffer>) => buffer(chunks);
const once = (bytes: Buffer): AsyncIterable<Buffer> => Readable.from([bytes]);

describe('the streams of a release, for many hosts', () => {
  it('are made once per plan: hosts on the same plan read one copy, another plan makes another', async () => {
    const bundle = await bundleOf({ 'a.txt': 'a\n', 'big.bin': randomBytes(3 * 1024 * 1024) });
    const payload = await payloadOf(bundle, 'zstd');
    const plan = { into: 'v2.tmp', wire: 'zstd' as const, update: fullPlan(payload.index).update };
    const reads = Array.from({ length: 8 }, () => payload.read(plan).chunks);
    const streams = await Promise.all(reads.map(collect));
    for (const stream of streams) expect(stream.equals(streams[0] ?? Buffer.alloc(0))).toBe(true);
    // One more host, later: the same copy, read from its start.
    expect((await collect(payload.read(plan).chunks)).equals(streams[0] ?? Buffer.alloc(0))).toBe(
      true,
    );
    const directory = path.dirname(payload.content.file);
    expect((await readdir(directory)).filter((name) => name.startsWith('stream-'))).toHaveLength(1);

    const carry = new CarriedFiles(payload.index, 'these', new Set(['big.bin']), 1);
    const update = {
      how: 'keep' as const,
      listed: ['big.bin'],
      entries: [...payload.index].filter((e) => e.path !== 'big.bin'),
    };
    const linked = { ...plan, base: 'v1', carry, update };
    const smaller = await collect(payload.read(linked).chunks);
    expect(smaller.length).toBeLessThan((streams[0]?.length ?? 0) / 10);
    await collect(payload.read({ ...plan, wire: undefined }).chunks);
    expect((await readdir(directory)).filter((name) => name.startsWith('stream-'))).toHaveLength(3);
  });
});

/** The files of a release stream (a tar the release's own files end), by name. */
async function filesOf(stream: AsyncIterable<Buffer>): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const tar = Buffer.concat([await collect(stream), Buffer.alloc(1024)]);
  for await (const { header, content } of readTar(once(tar))) {
    if (header.type === '0') files.set(header.name, await buffer(content));
  }
  return files;
}

describe('a release stream on the wire', () => {
  it('holds every file whole in each wire format, though the tar is made in one buffer written again', async () => {
    // Many pieces of the tar's buffer (1 MiB): 60 files of 100,000 random bytes, and small ones.
    const tree: Record<string, string | Buffer> = {};
    for (let at = 0; at < 60; at++) tree[`data/${at}.bin`] = randomBytes(100_000);
    for (let at = 0; at < 200; at++) tree[`small/${at}.txt`] = `${at}\n`.repeat(at);
    const payload = await payloadOf(await bundleOf(tree), 'zstd');
    const update = fullPlan(payload.index).update;
    for (const wire of [undefined, 'zstd', 'gzip'] as const) {
      const stream = await collect(payload.read({ into: 'v1.tmp', wire, update }).chunks);
      const files = await filesOf(decompress(once(stream), wire));
      for (const [name, content] of Object.entries(tree)) {
        expect(files.get(`v1.tmp/${name}`)?.equals(Buffer.from(content)), `${wire} ${name}`).toBe(
          true,
        );
      }
    }
  });

  it('copies what it keeps of a piece before it asks for the next, which may overwrite it', async () => {
    // A source that writes every piece into one buffer: 3,000 pieces of 100 bytes.
    function* reused(): Generator<Buffer> {
      const scratch = Buffer.alloc(100);
      for (let at = 0; at < 3000; at++) {
        scratch.fill(at % 251);
        yield scratch;
      }
    }
    const expected = Buffer.concat(
      Array.from({ length: 3000 }, (_, at) => Buffer.alloc(100, at % 251)),
    );
    for (const wire of [undefined, 'zstd'] as const) {
      const sent = await collect(onTheWire(reused(), wire));
      expect((await collect(decompress(once(sent), wire))).equals(expected), String(wire)).toBe(
        true,
      );
    }
  });
});

describe('a spool', () => {
  it('gives every reader the whole stream, however far the source has got when it starts', async () => {
    const dir = await tempDir();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const pieces = Array.from({ length: 20 }, (_, at) => Buffer.alloc(100_000, at));
    async function* source() {
      for (const [at, piece] of pieces.entries()) {
        if (at === 10) await gate;
        yield piece;
      }
    }
    const spool = new Spool(path.join(dir, 'spool'), source());
    const early = collect(spool.read());
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(spool.written).toBe(1_000_000);
    const middle = collect(spool.read());
    release();
    const late = await collect(spool.read());
    const whole = Buffer.concat(pieces);
    for (const got of [await early, await middle, late]) expect(got.equals(whole)).toBe(true);
  });

  it('fails every reader when its source fails, after what came before', async () => {
    const dir = await tempDir();
    async function* source() {
      yield Buffer.from('first part');
      await Promise.resolve();
      throw new Error('the source broke');
    }
    const spool = new Spool(path.join(dir, 'spool'), source());
    for (let i = 0; i < 2; i++) {
      const got: Buffer[] = [];
      await expect(async () => {
        for await (const chunk of spool.read()) got.push(chunk);
      }).rejects.toThrow('the source broke');
      expect(Buffer.concat(got).toString()).toBe('first part');
    }
  });
});
