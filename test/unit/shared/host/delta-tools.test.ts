import { mkdir, readFile, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { parseHostTools, toolsCommands } from '../../../../shared/host/scripts/tools.js';
import { tempDir } from '../bundle-helpers.js';
import {
  app,
  bundleOf,
  expectRelease,
  pathWithout,
  sh,
  transfer,
  serializeIndex,
} from './delta-helpers.js';

const toolsOf = (env?: NodeJS.ProcessEnv) =>
  parseHostTools(sh(['set -u', ...toolsCommands()].join('\n'), '', env).stdout.toString());

describe('host tools', () => {
  it('finds zstd, sha256sum and GNU find here, and falls back to gzip, shasum, openssl or nothing', async () => {
    expect(toolsOf()).toEqual({ decompressor: 'zstd', hash: 'sha256sum', stamps: true });
    const lean = async (without: string[]) => toolsOf({ PATH: await pathWithout(without) });
    expect(await lean(['zstd', 'sha256sum'])).toEqual({
      decompressor: 'gzip',
      hash: 'shasum',
      stamps: true,
    });
    expect(await lean(['zstd', 'gzip', 'sha256sum', 'shasum', 'find'])).toEqual({
      decompressor: undefined,
      hash: 'openssl',
      stamps: false,
    });
    expect(await lean(['sha256sum', 'shasum', 'openssl'])).toEqual({
      decompressor: 'zstd',
      hash: undefined,
      stamps: true,
    });
  });
});

/** The names of a release's own files on the host. */
const releaseFiles = async (root: string, id: string) =>
  (await readdir(path.join(root, 'releases', id, '.release'))).sort();

describe('hosts with fewer tools', () => {
  for (const [label, without, index] of [
    ['gzip and shasum', ['zstd', 'sha256sum'], 'index.gz'],
    ['openssl and a plain tar', ['zstd', 'gzip', 'sha256sum', 'shasum'], 'index'],
    ['no hash tool: everything travels', ['sha256sum', 'shasum', 'openssl'], 'index.zst'],
    ['a find without -printf: the base is hashed whole', ['find'], 'index.zst'],
  ] as const) {
    it(`builds the same release with ${label}, its index kept as ${index}`, async () => {
      const env = { PATH: await pathWithout([...without]) };
      if ((without as readonly string[]).includes('find')) await findWithoutPrintf(env.PATH);
      const root = path.join(await tempDir(), 'deploy');
      const v1 = await bundleOf(app);
      await transfer({ root, id: 'v1', bundle: v1, env });
      await writeFile(path.join(root, 'releases/v1/lib/util.js'), 'edited\n');
      const v2 = await bundleOf({ ...app, 'app.js': 'v2\n' });
      const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1', env });

      const hashes = !(without as readonly string[]).includes('openssl');
      expect(second.linked.length).toBe(hashes ? 3 : 0);
      expect(second.linked).not.toContain('lib/util.js');
      await expectRelease(root, 'v2', v2, serializeIndex(second.next));
      expect(await releaseFiles(root, 'v2')).toEqual([index, 'release.json', 'release.json.sig']);
    });
  }
});

describe('the index kept on the host', () => {
  it('reads a base index kept plain, and keeps the new one compressed once the host has zstd', async () => {
    const root = path.join(await tempDir(), 'deploy');
    const plainHost = { PATH: await pathWithout(['zstd', 'gzip']) };
    await transfer({ root, id: 'v1', bundle: await bundleOf(app), env: plainHost });
    expect(await releaseFiles(root, 'v1')).toContain('index');
    const v2 = await bundleOf({ ...app, 'app.js': 'v2\n' });
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect(second.linked).toEqual(['bin/start', 'docs/readme', 'lib/big.bin', 'lib/util.js']);
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
    expect(await releaseFiles(root, 'v2')).toContain('index.zst');
  });

  it('sends everything when the base index was kept with a tool the host no longer has', async () => {
    const root = path.join(await tempDir(), 'deploy');
    await transfer({ root, id: 'v1', bundle: await bundleOf(app) });
    expect(await releaseFiles(root, 'v1')).toContain('index.zst');
    const v2 = await bundleOf({ ...app, 'app.js': 'v2\n' });
    const env = { PATH: await pathWithout(['zstd']) };
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1', env });

    expect(second.linked).toEqual([]);
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
    expect(await releaseFiles(root, 'v2')).toContain('index.gz');
  });

  it('leaves none of the work files of the check and the merge, only the stamps', async () => {
    const root = path.join(await tempDir(), 'deploy');
    await transfer({ root, id: 'v1', bundle: await bundleOf(app) });
    const second = await transfer({
      root,
      id: 'v2',
      bundle: await bundleOf({ ...app, 'app.js': 'v2\n' }),
      base: 'v1',
    });

    expect(second.linked.length).toBe(4);
    expect((await readdir(path.join(root, '.deploy'))).sort()).toEqual(['stamps']);
    expect((await readdir(path.join(root, 'releases'))).sort()).toEqual(['v1', 'v2']);
  });
});

describe('hosts with another awk', () => {
  // mawk (Debian's) runs every other test; these are the awks of BSD and macOS, and of Alpine.
  for (const [label, run] of [
    ['the one true awk (BSD, macOS)', 'exec original-awk "$@"'],
    ['busybox awk (Alpine)', 'exec busybox awk "$@"'],
  ] as const) {
    it(`checks, merges the index and stamps as with mawk, under ${label}`, async () => {
      const bin = path.join(await tempDir(), 'bin');
      await mkdir(bin);
      await writeFile(path.join(bin, 'awk'), `#!/bin/sh\n${run}\n`, { mode: 0o755 });
      const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
      const root = path.join(await tempDir(), 'deploy');
      const v1 = await bundleOf(app);
      await transfer({ root, id: 'v1', bundle: v1, env });
      await writeFile(path.join(root, 'releases/v1/lib/util.js'), 'edited\n');
      await utimes(path.join(root, 'releases/v1/docs/readme'), 1, 1);
      const v2 = await bundleOf({ ...app, 'app.js': 'v2\n' });
      const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1', env });
      expect(second.linked.sort()).toEqual(['bin/start', 'docs/readme', 'lib/big.bin']);
      await expectRelease(root, 'v2', v2, serializeIndex(second.next));
      const stamps = await readFile(path.join(root, '.deploy/stamps'), 'utf8');
      expect(stamps.split('\n')[0]).toBe('release v2');

      // An edit that keeps the size and the mtime: the stamps must not vouch for it.
      await sleep(50);
      const big = path.join(root, 'releases/v2/lib/big.bin');
      const before = await stat(big);
      const bytes = await readFile(big);
      bytes[0] = bytes[0]! ^ 0xff;
      await writeFile(big, bytes);
      await utimes(big, before.atime, before.mtime);
      const third = await transfer({ root, id: 'v3', bundle: v2, base: 'v2', env });
      expect(third.linked.sort()).toEqual(['app.js', 'bin/start', 'docs/readme', 'lib/util.js']);
      await expectRelease(root, 'v3', v2, serializeIndex(third.next));
    });
  }
});

/** A `find` first on `dir`'s PATH that has no -printf, as BSD's and busybox's. */
async function findWithoutPrintf(dir: string): Promise<void> {
  const real = sh('command -v find').stdout.toString().trim();
  const script = `#!/bin/sh\nfor arg; do [ "$arg" = -printf ] && { echo "find: unknown primary -printf" >&2; exit 1; }; done\nexec ${real} "$@"\n`;
  await writeFile(path.join(dir, 'find'), script, { mode: 0o755 });
}
