import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { buffer } from 'node:stream/consumers';
import { chmod, chown, lstat, mkdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { releaseStream } from '../../../../shared/bundle/delta-tar.js';
import { serializeIndex } from '../../../../shared/bundle/file-index.js';
import {
  checkBaseScript,
  hostToolsScript,
  parseBaseCheck,
  parseHostTools,
  receiveDeltaScript,
} from '../../../../shared/host/scripts/delta.js';
import { tempDir, type TreeSpec } from '../bundle-helpers.js';
import {
  bundleOf,
  indexOnHost,
  pathWithout,
  plainUnpack,
  sh,
  transfer,
  treeOf,
} from './delta-helpers.js';

const app: TreeSpec = {
  'app.js': 'console.log("v1")\n',
  'bin/start': { content: '#!/bin/sh\nexec node app.js\n', mode: 0o755 },
  'lib/util.js': 'export const answer = 42;\n',
  'lib/big.bin': randomBytes(256 * 1024),
  'docs/readme': 'read me\n',
  'current-docs': { link: 'docs' },
  'empty/': { dir: 0o755 },
};

async function hostWith(first: TreeSpec) {
  const root = path.join(await tempDir(), 'deploy');
  const v1 = await bundleOf(first);
  const sent = await transfer({ root, id: 'v1', bundle: v1 });
  return { root, v1, sent };
}

/** The release as the bundle would unpack, plus the index it carries. */
async function expectRelease(root: string, id: string, bundle: string, index: string) {
  const release = path.join(root, 'releases', id);
  expect(await treeOf(release, ['.release'])).toEqual(await treeOf(await plainUnpack(bundle)));
  expect(await indexOnHost(root, id)).toBe(index);
}

describe('host tools', () => {
  it('finds zstd and sha256sum here, and falls back to gzip, shasum, openssl or nothing', async () => {
    expect(parseHostTools(sh(hostToolsScript()).stdout)).toEqual({
      decompressor: 'zstd',
      hash: 'sha256sum',
    });
    const lean = async (without: string[]) =>
      parseHostTools(sh(hostToolsScript(), '', { PATH: await pathWithout(without) }).stdout);
    expect(await lean(['zstd', 'sha256sum'])).toEqual({ decompressor: 'gzip', hash: 'shasum' });
    expect(await lean(['zstd', 'gzip', 'sha256sum', 'shasum'])).toEqual({
      decompressor: undefined,
      hash: 'openssl',
    });
    expect(await lean(['sha256sum', 'shasum', 'openssl'])).toEqual({
      decompressor: 'zstd',
      hash: undefined,
    });
  });
});

describe('a release built from the one before', () => {
  it('sends only what changed and links the rest, identical to a full unpack', async () => {
    const { root, sent: first } = await hostWith(app);
    expect(first.plan.carry.size).toBe(0);
    const v2 = await bundleOf({ ...app, 'app.js': 'console.log("v2")\n' });
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect([...second.plan.carry].sort()).toEqual([
      'bin/start',
      'docs/readme',
      'lib/big.bin',
      'lib/util.js',
    ]);
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
    const releases = path.join(root, 'releases');
    const [old, linked] = await Promise.all([
      stat(path.join(releases, 'v1/lib/big.bin')),
      stat(path.join(releases, 'v2/lib/big.bin')),
    ]);
    expect(linked.ino).toBe(old.ino);
    expect((await stat(path.join(releases, 'v2/app.js'))).nlink).toBe(1);
    // The 256 KiB file did not travel again: the second stream is a fraction of the first.
    expect(second.wireBytes).toBeLessThan(first.wireBytes / 4);
  });

  it('reports the progress of a long upload in the log', async () => {
    const root = path.join(await tempDir(), 'deploy');
    const v1 = await bundleOf({ ...app, 'lib/more.bin': randomBytes(4 * 1024 * 1024) });
    let now = 0;
    const lines: string[] = [];
    // A clock that runs a second per look: the upload seems to take minutes.
    const progress = {
      label: 'host test: v1',
      report: (line: string) => lines.push(line),
      now: () => (now += 1000),
    };
    await transfer({ root, id: 'v1', bundle: v1, progress });

    expect(lines.length).toBeGreaterThan(1);
    expect(lines.at(-1)).toMatch(/^host test: v1: 4\.\d MiB of 4\.\d MiB \(100%\), 4\.\d MiB sent/);
  });

  it('never carries a file edited on the host: the bundle content travels instead', async () => {
    const { root } = await hostWith(app);
    const edited = path.join(root, 'releases/v1/lib/util.js');
    await writeFile(edited, 'export const answer = 41;\n');
    const v2 = await bundleOf({ ...app, 'app.js': 'console.log("v2")\n' });
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect(second.plan.carry.has('lib/util.js')).toBe(false);
    expect(await readFile(path.join(root, 'releases/v2/lib/util.js'), 'utf8')).toBe(
      'export const answer = 42;\n',
    );
    expect(await readFile(edited, 'utf8')).toBe('export const answer = 41;\n');
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
  });

  it('never carries a file whose mode was changed on the host, or one that was removed', async () => {
    const { root } = await hostWith(app);
    await chmod(path.join(root, 'releases/v1/docs/readme'), 0o755);
    await chmod(path.join(root, 'releases/v1/bin/start'), 0o700);
    sh(`rm '${path.join(root, 'releases/v1/lib/big.bin')}'`);
    const v2 = await bundleOf(app);
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect([...second.plan.carry].sort()).toEqual(['app.js', 'lib/util.js']);
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
  });

  it('rewrites the new index whole when the base index is not written the canonical way', async () => {
    const { root } = await hostWith(app);
    const baseIndex = path.join(root, 'releases/v1/.release/index');
    const text = await readFile(baseIndex, 'utf8');
    await writeFile(baseIndex, text.replace(/^(lib\/util\.js\tf\t)644\t/m, '$10644\t'));
    expect(await readFile(baseIndex, 'utf8')).not.toBe(text);
    const v2 = await bundleOf({ ...app, 'app.js': 'v2\n' });
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect(second.plan.carry.has('lib/util.js')).toBe(true);
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
  });

  it('the check reports exactly the files that are not as shipped', async () => {
    const { root } = await hostWith(app);
    await writeFile(path.join(root, 'releases/v1/app.js'), 'changed on the host\n');
    const nonce = 'f00d';
    const script = checkBaseScript(
      root,
      'v1',
      { decompressor: undefined, hash: 'sha256sum' },
      nonce,
    );
    const report = parseBaseCheck(sh(script).stdout, nonce);
    expect(report?.unverified).toEqual(new Set(['app.js']));
    expect(report?.index).toBe(await indexOnHost(root, 'v1'));
  });

  it('leaves out deleted files and follows mode, symlink and empty-directory changes', async () => {
    const { root } = await hostWith(app);
    const next: TreeSpec = {
      'app.js': 'console.log("v1")\n',
      'bin/start': { content: '#!/bin/sh\nexec node app.js\n', mode: 0o644 },
      'lib/util.js': { content: 'export const answer = 42;\n', mode: 0o755 },
      'docs/readme': 'read me\n',
      'current-docs': { link: 'lib' },
      'docs/latest': { link: '../lib/util.js' },
      'more/empty/': { dir: 0o755 },
    };
    const v2 = await bundleOf(next);
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect([...second.plan.carry].sort()).toEqual(['app.js', 'docs/readme']);
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
    const release = path.join(root, 'releases/v2');
    await expect(lstat(path.join(release, 'lib/big.bin'))).rejects.toThrow(/ENOENT/);
    await expect(lstat(path.join(release, 'empty'))).rejects.toThrow(/ENOENT/);
    expect(await readlink(path.join(release, 'current-docs'))).toBe('lib');
    expect((await stat(path.join(release, 'bin/start'))).mode & 0o777).toBe(0o644);
    expect((await stat(path.join(release, 'lib/util.js'))).mode & 0o777).toBe(0o755);
  });

  it('sends files whose names the host cannot list plainly, and still builds the same tree', async () => {
    const odd = {
      ...app,
      'odd/new\nline': 'a name with a newline\n',
      'odd/back\\slash': 'a name with a backslash\n',
      "odd/it's here": 'quotes and spaces\n',
      'odd/naïve 中': 'unicode\n',
    };
    const { root } = await hostWith(odd);
    const v2 = await bundleOf({ ...odd, 'app.js': 'v2\n' });
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect(second.plan.carry.has('odd/new\nline')).toBe(false);
    expect(second.plan.carry.has('odd/back\\slash')).toBe(false);
    expect(second.plan.carry.has("odd/it's here")).toBe(true);
    expect(second.plan.carry.has('odd/naïve 中')).toBe(true);
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
  });
});

describe('names only pax headers can hold', () => {
  it('links files whose paths and link targets are longer than ustar allows', async () => {
    const long = `deep/${'d'.repeat(120)}/${'f'.repeat(150)}.js`;
    const spec: TreeSpec = {
      ...app,
      [long]: 'long\n',
      [`${long}.link`]: { link: 'f'.repeat(150) + '.js' },
    };
    const { root } = await hostWith(spec);
    const v2 = await bundleOf({ ...spec, 'app.js': 'v2\n' });
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect(second.plan.carry.has(long)).toBe(true);
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
  });
});

describe('hosts with fewer tools', () => {
  for (const [label, without] of [
    ['gzip and shasum', ['zstd', 'sha256sum']],
    ['openssl and a plain tar', ['zstd', 'gzip', 'sha256sum', 'shasum']],
    ['no hash tool: everything travels', ['sha256sum', 'shasum', 'openssl']],
  ] as const) {
    it(`builds the same release with ${label}`, async () => {
      const env = { PATH: await pathWithout([...without]) };
      const root = path.join(await tempDir(), 'deploy');
      const v1 = await bundleOf(app);
      await transfer({ root, id: 'v1', bundle: v1, env });
      await writeFile(path.join(root, 'releases/v1/lib/util.js'), 'edited\n');
      const v2 = await bundleOf({ ...app, 'app.js': 'v2\n' });
      const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1', env });

      const hashes = !(without as readonly string[]).includes('openssl');
      expect(second.plan.carry.size).toBe(hashes ? 3 : 0);
      expect(second.plan.carry.has('lib/util.js')).toBe(false);
      await expectRelease(root, 'v2', v2, serializeIndex(second.next));
    });
  }
});

describe('the receiving end', () => {
  it("unpacks the bundle's modes whatever the deploy user's umask", async () => {
    const dir = await tempDir();
    await chmod(dir, 0o755);
    const root = path.join(dir, 'deploy');
    await mkdir(root);
    const bundle = await bundleOf(app);
    const stream = await buffer(releaseStream(bundle, { into: 'v1.tmp' }));
    // A deploy user of its own (tar run by root keeps the archive's modes anyway), umask 077.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) await chown(root, 65534, 65534);
    const command = ['/bin/sh', '-c', `umask 077; ${receiveDeltaScript(root, 'v1', undefined)}`];
    const drop = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    const [program = '', ...args] = asRoot ? [...drop, ...command] : command;
    const result = spawnSync(program, args, { input: stream });
    expect(result.status, result.stderr.toString()).toBe(0);
    const release = path.join(root, 'releases/v1.tmp');
    expect((await stat(path.join(release, 'app.js'))).mode & 0o777).toBe(0o644);
    expect((await stat(path.join(release, 'bin/start'))).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(release, 'lib'))).mode & 0o777).toBe(0o755);
  });

  it('fails on a damaged compressed stream and on entries outside the new directory', async () => {
    const root = path.join(await tempDir(), 'deploy');
    const garbage = sh(receiveDeltaScript(root, 'v1', 'zstd'), Buffer.from('not zstd at all'));
    expect(garbage.code).not.toBe(0);
    expect(garbage.stderr).toMatch(/damaged|zstd/);
    const plain = await bundleOf(app);
    const unprefixed = sh(`zstd -q -d -c '${plain}'`).stdout;
    const stray = sh(receiveDeltaScript(root, 'v1', undefined), unprefixed);
    expect(stray.code).not.toBe(0);
    expect(sh(`ls -A '${root}/releases/v1.tmp'`).stdout.toString()).toBe('');
  });

  it('gets a plain stream in large pieces, not a write per tar header', async () => {
    const many: TreeSpec = {};
    for (let i = 0; i < 2000; i++) many[`small/${i}.txt`] = `file ${i}\n`;
    const sizes: number[] = [];
    for await (const chunk of releaseStream(await bundleOf(many), { into: 'v1.tmp' })) {
      sizes.push((chunk as Buffer).length);
    }
    expect(sizes.length).toBeGreaterThan(2);
    expect(sizes.slice(0, -1).every((size) => size >= 256 * 1024)).toBe(true);
  });

  it('gets a stream that fails before its end when the bundle changed since it was verified', async () => {
    const bundle = await bundleOf(app);
    const stream = releaseStream(bundle, {
      into: 'v1.tmp',
      expectedDigest: `sha256:${'0'.repeat(64)}`,
    });
    const chunks: Buffer[] = [];
    await expect(async () => {
      for await (const chunk of stream) chunks.push(chunk as Buffer);
    }).rejects.toThrow(/changed since it was verified/);
    // Every entry went out, but not the end of the archive: the caller fails the transfer.
    expect(Buffer.concat(chunks).subarray(-1024).equals(Buffer.alloc(1024))).toBe(false);
  });
});
