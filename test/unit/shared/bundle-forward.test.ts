import { randomBytes } from 'node:crypto';
import { lstat, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { fullPlan } from '../../../shared/host/delta-plan.js';
import { uploadStream } from '../../../shared/host/delta-transfer.js';
import type { HostTools } from '../../../shared/host/scripts/tools.js';
import { payloadOf } from '../../helpers/payload.js';
import { tempDir, type TreeSpec } from './bundle-helpers.js';
import {
  app,
  bundleOf,
  expectRelease,
  indexOnHost,
  plainUnpack,
  serializeIndex,
  sh,
  transfer,
  treeOf,
} from './host/delta-helpers.js';

/*
 * A first deploy of a bundle whose tar is what the runner would write sends the bundle's own
 * zstd frames; any other tar is written anew from its checked entries, as before.
 */

const ZSTD_HOST: HostTools = { decompressor: 'zstd', hash: 'sha256sum', stamps: false };

/** A tree of several MiB: its bundle is many frames. */
const large: TreeSpec = {
  ...app,
  'assets/a.bin': randomBytes(3 * 1024 * 1024),
  'assets/b.bin': Buffer.alloc(5 * 1024 * 1024, 'b'),
};

/** The tar inside a zstd bundle, as the zstd tool reads it. */
function tarOf(bundle: Buffer): Buffer {
  const result = sh('zstd -q -d -c', bundle);
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

/** `tar` as a bundle of frames of `frameBytes` each, compressed at zstd's level 19. */
function recompressed(tar: Buffer, frameBytes: number): Buffer {
  const frames: Buffer[] = [];
  for (let at = 0; at < tar.length; at += frameBytes) {
    const part = tar.subarray(at, at + frameBytes);
    frames.push(
      zlib.zstdCompressSync(part, { params: { [zlib.constants.ZSTD_c_compressionLevel]: 19 } }),
    );
  }
  return Buffer.concat(frames);
}

async function bundleFile(bytes: Buffer): Promise<string> {
  const file = path.join(await tempDir(), 'bundle.tar.zst');
  await writeFile(file, bytes);
  return file;
}

/** What a full transfer sends a zstd host: the payload's shared part. */
async function fullStream(bundle: string): Promise<{ sent: Buffer; kept: boolean }> {
  const payload = await payloadOf(bundle, 'zstd');
  const update = fullPlan(payload.index).update;
  const sent = await buffer(payload.read({ into: '', wire: 'zstd', update }).chunks);
  return { sent, kept: payload.content.bundle !== undefined };
}

/** The header block of `name` in `tar`, at its offset. */
function headerAt(tar: Buffer, name: string): number {
  for (let at = 0; at < tar.length; at += 512) {
    if (tar.toString('utf8', at, at + name.length + 1) === `${name}\0`) return at;
  }
  throw new Error(`no header for ${name}`);
}

/** Sets a header's checksum field after its other bytes changed. */
function resum(tar: Buffer, at: number): void {
  tar.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + 512; i++) sum += tar[i]!;
  tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1');
}

describe('a first deploy of a bundle the runner would have written', () => {
  it("sends the bundle's own frames: only the frame holding its end is compressed again", async () => {
    const tar = tarOf(await readFile(await bundleOf(large)));
    // Frames of 1 MiB at level 19: nothing the runner compresses looks like them.
    const bundle = recompressed(tar, 1024 * 1024);
    const frames = Math.ceil(tar.length / (1024 * 1024));
    const lastFrame = zlib.zstdCompressSync(tar.subarray((frames - 1) * 1024 * 1024), {
      params: { [zlib.constants.ZSTD_c_compressionLevel]: 19 },
    });
    const forwarded = bundle.length - lastFrame.length;

    const { sent, kept } = await fullStream(await bundleFile(bundle));

    expect(kept).toBe(true);
    expect(forwarded).toBeGreaterThan(8 * 1024 * 1024 * 0.3);
    expect(sent.subarray(0, forwarded).equals(bundle.subarray(0, forwarded))).toBe(true);
    // Then the bundle's last entries, the release's own directory and index update: one tar.
    const unpacked = tarOf(sent);
    const end = tar.length - 1024;
    expect(unpacked.subarray(0, end).equals(tar.subarray(0, end))).toBe(true);
    expect(unpacked.subarray(end).includes(Buffer.from('.release/index.update'))).toBe(true);
  });

  it('unpacks on the host to the same release as the bundle, names relative to it', async () => {
    const tar = tarOf(await readFile(await bundleOf(large)));
    const bundle = await bundleFile(recompressed(tar, 1024 * 1024));
    const root = path.join(await tempDir(), 'deploy');

    const sent = await transfer({ root, id: 'v1', bundle });

    expect(sent.tools.decompressor).toBe('zstd');
    await expectRelease(root, 'v1', bundle, serializeIndex(sent.next));
    // The level-19 frames went as they are: fewer bytes than the runner's level 3 would send.
    const own = await transfer({ root: `${root}-own`, id: 'v1', bundle: await bundleOf(large) });
    expect(sent.wireBytes).toBeLessThan(own.wireBytes);
  });

  it('fails the stream, before the release is whole, when the bundle changed on the runner since it was verified', async () => {
    const payload = await payloadOf(
      await bundleFile(recompressed(tarOf(await readFile(await bundleOf(large))), 1 << 20)),
      'zstd',
    );
    const kept = payload.content.bundle?.file ?? '';
    const bytes = await readFile(kept);
    const middle = Math.floor(bytes.length / 2);
    bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle);
    await writeFile(kept, bytes);
    const { stdin, summary } = uploadStream({
      id: 'v1',
      payload,
      planned: { plan: fullPlan(payload.index), base: undefined },
      tools: ZSTD_HOST,
      files: [],
    });
    // What the log says of it.
    expect(summary).toMatch(
      /^\d+ entries sent \(8\.\d+ MiB of files\), all of it: the bundle's own zstd frames$/,
    );
    const chunks: Buffer[] = [];
    await expect(async () => {
      for await (const chunk of stdin) chunks.push(chunk as Buffer);
    }).rejects.toThrow(/^bundle: the bundle file kept on the runner changed since it was verified/);
    // What went before the failure holds frames of the bundle, never the release's last file.
    expect(chunks.length).toBeGreaterThan(0);
    const into = path.join(await tempDir(), 'r');
    sh(`mkdir -p '${into}' && zstd -q -d -c | tar -xf - -C '${into}'`, Buffer.concat(chunks));
    await expect(lstat(path.join(into, 'app.js'))).resolves.toBeDefined();
    await expect(lstat(path.join(into, '.release/complete'))).rejects.toThrow(/ENOENT/);
  });
});

describe('a bundle the runner would not have written', () => {
  /** The tar of a build-action bundle with `change` made to it, compressed again. */
  async function changed(change: (tar: Buffer) => void): Promise<string> {
    const tar = tarOf(await readFile(await bundleOf(app)));
    change(tar);
    return bundleFile(recompressed(tar, 64 * 1024));
  }

  const cases: [string, () => Promise<string>][] = [
    [
      'a header field the checks do not read (an owner name)',
      () =>
        changed((tar) => {
          const at = headerAt(tar, 'app.js');
          tar.write('mallory', at + 265, 'latin1');
          resum(tar, at);
        }),
    ],
    [
      'padding that is not zeros',
      () =>
        changed((tar) => {
          const at = headerAt(tar, 'app.js');
          const size = Buffer.byteLength(app['app.js'] as string);
          tar[at + 512 + size] = 0x41;
        }),
    ],
    [
      'a file at a path the release writes itself (.env)',
      async () => {
        const withEnv = await bundleOf({ ...app, '.env': 'FROM_BUNDLE=1\n' });
        return bundleFile(recompressed(tarOf(await readFile(withEnv)), 64 * 1024));
      },
    ],
    [
      'an archive made by GNU tar',
      async () => {
        const tree = path.join(await tempDir(), 'tree');
        const made = sh(
          `mkdir -p '${tree}/lib' && printf 'x\\n' > '${tree}/lib/a.js' && tar -C '${tree}' -cf - lib | zstd -q -c`,
        );
        return bundleFile(made.stdout);
      },
    ],
  ];

  it.each(cases)('is written anew from its checked entries: %s', async (_, make) => {
    const bundle = await make();
    const { sent, kept } = await fullStream(bundle);
    expect(kept).toBe(false);
    const payload = await payloadOf(bundle, 'zstd');
    const planned = { plan: fullPlan(payload.index), base: undefined };
    const upload = uploadStream({ id: 'v1', payload, planned, tools: ZSTD_HOST, files: [] });
    expect(upload.summary).toMatch(/, all of it: compressed with zstd$/);
    upload.stdin.destroy();
    const own = await readFile(bundle);
    expect(sent.subarray(0, 64).equals(own.subarray(0, 64))).toBe(false);

    const root = path.join(await tempDir(), 'deploy');
    const transferred = await transfer({ root, id: 'v1', bundle });
    expect(sh('tar -tvf -', tarOf(sent)).stdout.toString()).not.toMatch(/mallory/);
    const release = path.join(root, 'releases/v1');
    expect(await treeOf(release, ['.release', '.env'])).toEqual(
      await treeOf(await plainUnpack(bundle), ['.env']),
    );
    expect(await indexOnHost(root, 'v1')).toBe(serializeIndex(transferred.next));
    expect(await readFile(path.join(release, '.env'), 'utf8')).toBe('');
  });

  it('is never forwarded when gzip-compressed, to any host', async () => {
    const tar = tarOf(await readFile(await bundleOf(app)));
    const bundle = await bundleFile(zlib.gzipSync(tar));
    const payload = await payloadOf(bundle, 'gzip');
    expect(payload.content.bundle).toBeUndefined();
  });
});
