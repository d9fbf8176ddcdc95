import { execFileSync } from 'node:child_process';
import { link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { checkedTar } from '../../../shared/bundle.js';
import { ConfigurationError } from '../../../shared/errors.js';
import { handMadeTar, snapshot, tempDir, writeTree, type TarEntrySpec } from './bundle-helpers.js';
import { unpackBundle } from './unpack.js';

/** A directory with an innocent file, so every hostile tar starts with something to unpack. */
async function source(): Promise<string> {
  const directory = await tempDir();
  await writeTree(directory, { 'ok.txt': 'fine\n' });
  return directory;
}

/** Runs GNU tar to make an archive and returns its path; `tar -tvf` must show `expect`. */
async function gnuTar(args: string[], shows: RegExp): Promise<string> {
  const archive = join(await tempDir(), 'evil.tar');
  execFileSync('tar', ['-cf', archive, ...args], { stdio: ['ignore', 'ignore', 'ignore'] });
  expect(execFileSync('tar', ['-tvf', archive, '-P'], { encoding: 'utf-8' })).toMatch(shows);
  return archive;
}

async function handMade(entries: TarEntrySpec[]): Promise<string> {
  const archive = join(await tempDir(), 'evil.tar');
  await writeFile(archive, await handMadeTar([{ name: 'ok.txt', content: 'fine\n' }, ...entries]));
  return archive;
}

/** Unpacks into a new directory and into an empty existing one: refused, nothing left behind. */
async function refusedUnpack(archive: string | Buffer): Promise<string> {
  const parent = await tempDir();
  const fresh = join(parent, 'release');
  const input = () => (typeof archive === 'string' ? archive : Readable.from([archive]));
  const error = await unpackBundle(input(), fresh).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(ConfigurationError);
  expect(await snapshot(parent)).toEqual([]);

  const existing = await tempDir();
  await expect(unpackBundle(input(), existing)).rejects.toThrow(ConfigurationError);
  expect(await snapshot(existing)).toEqual([]);

  const streamed = (async () => {
    for await (const chunk of checkedTar(input())) void chunk;
  })();
  await expect(streamed).rejects.toThrow(ConfigurationError);

  const message = (error as Error).message;
  expect(message).not.toContain('\n');
  return message;
}

describe('unpackBundle and checkedTar refuse hostile archives made by GNU tar', () => {
  it('absolute member names (tar -P)', async () => {
    const from = await source();
    const archive = await gnuTar(['-P', join(from, 'ok.txt')], /^-.* \/.*\/ok\.txt$/m);
    expect(await refusedUnpack(archive)).toMatch(
      /^entry "\/.*\/ok\.txt": is absolute; expected a path relative to the root$/,
    );
  });

  it("member names with '..' (tar --transform)", async () => {
    const from = await source();
    await writeTree(from, { 'evil.txt': 'escaped\n' });
    const archive = await gnuTar(
      ['-P', '--transform', 's,^evil,../../evil,', '-C', from, 'ok.txt', 'evil.txt'],
      / \.\.\/\.\.\/evil\.txt$/m,
    );
    expect(await refusedUnpack(archive)).toBe(
      `entry "../../evil.txt": contains '..'; expected a path inside the root`,
    );
  });

  it('hardlinks', async () => {
    const from = await source();
    await link(join(from, 'ok.txt'), join(from, 'again.txt'));
    const archive = await gnuTar(
      ['-C', from, 'ok.txt', 'again.txt'],
      / again\.txt link to ok\.txt$/m,
    );
    expect(await refusedUnpack(archive)).toBe(
      'entry "again.txt": is a hardlink; a bundle holds only files, directories and symlinks',
    );
  });

  it('a fifo', async () => {
    const from = await source();
    execFileSync('mkfifo', [join(from, 'pipe')]);
    const archive = await gnuTar(['-C', from, 'ok.txt', 'pipe'], /^p.* pipe$/m);
    expect(await refusedUnpack(archive)).toBe(
      'entry "pipe": is a fifo; a bundle holds only files, directories and symlinks',
    );
  });

  it('a device', async () => {
    const archive = await gnuTar(['-C', '/dev', 'null'], /^c.* null$/m);
    expect(await refusedUnpack(archive)).toMatch(/^entry "null": is a character device;/);
  });

  it('symlinks pointing outside, absolute or relative', async () => {
    const from = await source();
    await symlink('/etc/passwd', join(from, 'passwd'));
    await mkdir(join(from, 'd'));
    await symlink('../../outside', join(from, 'd', 'up'));
    const absolute = await gnuTar(['-C', from, 'ok.txt', 'passwd'], / passwd -> \/etc\/passwd$/m);
    expect(await refusedUnpack(absolute)).toMatch(
      /^symlink "passwd": points to an absolute path; expected a relative target inside the bundle, got "\/etc\/passwd"$/,
    );
    const relative = await gnuTar(['-C', from, 'ok.txt', 'd'], / d\/up -> \.\.\/\.\.\/outside$/m);
    expect(await refusedUnpack(relative)).toBe(
      'symlink "d/up": points outside the bundle; got "../../outside"',
    );
  });

  it('the same, compressed with zstd or gzip', async () => {
    const from = await source();
    await symlink('/etc', join(from, 'etc'));
    for (const flag of ['--zstd', '-z']) {
      const archive = join(await tempDir(), 'evil.tar.x');
      execFileSync('tar', [flag, '-cf', archive, '-C', from, 'ok.txt', 'etc']);
      expect(await refusedUnpack(archive)).toMatch(/^symlink "etc": points to an absolute path/);
    }
  });
});

describe('unpackBundle and checkedTar refuse hostile archives made by hand', () => {
  it('a file written through a symlink that an earlier entry made', async () => {
    const archive = await handMade([
      { name: 'sub/', type: 'directory' },
      { name: 'alias', type: 'symlink', linkname: 'sub' },
      { name: 'alias/x.txt', content: 'through the link\n' },
    ]);
    expect(await refusedUnpack(archive)).toBe(
      'entry "alias/x.txt" below the symlink "alias": would be written through the symlink',
    );
  });

  it('a path that appears twice, or a symlink replacing a directory', async () => {
    const twice = await handMade([{ name: 'ok.txt', content: 'again\n' }]);
    expect(await refusedUnpack(twice)).toBe('entry "ok.txt": appears twice');
    const replaced = await handMade([
      { name: 'dir/a.txt', content: 'a\n' },
      { name: 'dir', type: 'symlink', linkname: '/etc' },
    ]);
    expect(await refusedUnpack(replaced)).toBe('entry "dir": appears twice');
  });

  it('an entry below a file, however deep, and a symlink climbing out through a file', async () => {
    const below = await handMade([{ name: 'ok.txt/deeper/x.txt', content: 'x\n' }]);
    expect(await refusedUnpack(below)).toBe(
      'entry "ok.txt/deeper/x.txt" below the file "ok.txt": cannot be written below a file',
    );
    const climbing = await handMade([{ name: 'l', type: 'symlink', linkname: 'ok.txt/../..' }]);
    expect(await refusedUnpack(climbing)).toBe(
      'symlink "l": points outside the bundle; got "ok.txt/../.."',
    );
    // Through a file and back into the bundle is a dangling link, not an escape.
    const back = await handMade([
      { name: 'l', type: 'symlink', linkname: 'ok.txt/x/../../ok.txt' },
    ]);
    await unpackBundle(back, join(await tempDir(), 'release'));
  });

  it('a symlink that escapes only through another symlink', async () => {
    const archive = await handMade([
      { name: 'a', type: 'symlink', linkname: 'd/l/..' },
      { name: 'd/', type: 'directory' },
      { name: 'd/l', type: 'symlink', linkname: '..' },
    ]);
    expect(await refusedUnpack(archive)).toBe(
      'symlink "a": points outside the bundle; got "d/l/.."',
    );
  });

  it('symlink loops', async () => {
    const archive = await handMade([
      { name: 'a', type: 'symlink', linkname: 'b' },
      { name: 'b', type: 'symlink', linkname: 'a' },
    ]);
    expect(await refusedUnpack(archive)).toBe('symlink "a": is part of a loop or a chain too deep');
  });

  it('a block device, in a zstd or gzip bundle', async () => {
    const tar = await handMadeTar([
      { name: 'ok.txt', content: 'fine\n' },
      { name: 'disk', type: 'block-device', devmajor: 8, devminor: 0 },
    ]);
    for (const bundle of [zstdCompressSync(tar), gzipSync(tar)]) {
      expect(await refusedUnpack(bundle)).toMatch(/^entry "disk": is a block device;/);
    }
  });

  it('an empty archive', async () => {
    expect(await refusedUnpack(await handMadeTar([]))).toBe(
      'the bundle: is empty; expected at least one file or symlink',
    );
  });

  it('bytes that are not a tar, or a tar cut short', async () => {
    const tar = await handMadeTar([{ name: 'ok.txt', content: 'x'.repeat(5000) }]);
    expect(await refusedUnpack(Buffer.from('this is not a tar at all'.repeat(40)))).toMatch(
      /^the bundle: is not a valid tar: /,
    );
    expect(await refusedUnpack(tar.subarray(0, 2048))).toMatch(
      /^the bundle: is not a valid tar: the archive ends inside an entry$/,
    );
    const compressed = zstdCompressSync(tar);
    expect(await refusedUnpack(compressed.subarray(0, compressed.length - 10))).toMatch(
      /^the bundle: is not valid zstd data; got |^the bundle: is not a valid tar: /,
    );
    const broken = Buffer.from(compressed);
    broken.fill(7, 12);
    expect(await refusedUnpack(broken)).toMatch(/^the bundle: is not valid zstd data; got /);
  });

  it('a bundle compressed otherwise than expected', async () => {
    const bundle = gzipSync(await handMadeTar([{ name: 'ok.txt', content: 'fine\n' }]));
    const error = await unpackBundle(Readable.from([bundle]), join(await tempDir(), 'r'), {
      compression: 'zstd',
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toBe(
      'the bundle: expected zstd-compressed data, got data that starts like gzip',
    );
  });
});

describe('checkedTar', () => {
  it('passes only checked entries, with normalised headers, to a tar that has no zstd', async () => {
    const plain = await handMadeTar([
      { name: './', type: 'directory' },
      {
        name: './bin/run',
        content: '#!/bin/sh\n',
        mode: 0o4775,
        uid: 1000,
        gid: 1000,
        uname: 'dev',
      },
      { name: 'lib//a.txt', content: 'a\n', mode: 0o600 },
    ]);
    const chunks: Buffer[] = [];
    for await (const chunk of checkedTar(Readable.from([zstdCompressSync(plain)]))) {
      chunks.push(chunk as Buffer);
    }
    const out = await tempDir();
    const file = join(out, 'plain.tar');
    await writeFile(file, Buffer.concat(chunks));
    const listing = execFileSync('tar', ['-tvf', file, '--numeric-owner'], { encoding: 'utf-8' });
    expect(listing).toMatch(/^-rwxr-xr-x 0\/0 +10 .* bin\/run$/m);
    expect(listing).toMatch(/^-rw-r--r-- 0\/0 +2 .* lib\/a\.txt$/m);
    expect(listing).not.toContain('./');
  });
});

describe('checkedTar read late', () => {
  it('fails the reader that comes after the refusal', async () => {
    const archive = await handMade([{ name: 'link', type: 'link', linkname: 'ok.txt' }]);
    const stream = checkedTar(archive);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const reading = (async () => {
      for await (const chunk of stream) void chunk;
    })();
    await expect(reading).rejects.toThrow('entry "link": is a hardlink');
  });
});
