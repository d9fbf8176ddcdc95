import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, link, mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { zstdDecompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { bundleDigest, checkedTar, packBundle, resolveEntries } from '../../../shared/bundle.js';
import { ConfigurationError } from '../../../shared/errors.js';
import { snapshot, tempDir, writeTree, type TreeSpec } from './bundle-helpers.js';
import { unpackBundle } from './unpack.js';

const MTIME = 1_700_000_000;

const APP: TreeSpec = {
  'app/server.js': 'console.log("hi")\n',
  'app/bin/start': { content: '#!/bin/sh\nexec node server.js\n', mode: 0o755 },
  'app/lib/util.js': 'export const x = 1;\n',
  'app/lib/current': { link: 'util.js' },
  'app/public/logo.svg': '<svg/>',
  'app/empty': { dir: 0o755 },
  'app/héllo wörld.txt': 'unicode names\n',
  [`app/${'deep/'.repeat(30)}leaf.txt`]: 'a long path\n',
  'config/app.toml': 'port = 8080\n',
  'README.md': '# app\n',
};

async function pack(root: string, patterns: string[], compression: 'zstd' | 'gzip' = 'zstd') {
  const destination = join(await tempDir(), `bundle.tar.${compression === 'zstd' ? 'zst' : 'gz'}`);
  const result = await packBundle({ root, patterns, compression, mtime: MTIME }, destination);
  return { ...result, path: destination, bytes: await readFile(destination) };
}

function tar(args: string[]): string {
  return execFileSync('tar', args, { encoding: 'utf-8' });
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConfigurationError);
  const message = (error as Error).message;
  expect(message).not.toContain('\n');
  return message;
}

describe('packBundle', () => {
  it('makes the same bytes from the same files, whatever their mtimes, owners and modes', async () => {
    const first = await tempDir();
    await writeTree(first, APP);
    const second = await tempDir();
    // Created in another order, with other times, owners and permission bits beyond x.
    await writeTree(second, Object.fromEntries(Object.entries(APP).reverse()));
    await utimes(join(second, 'app/server.js'), 1, 1);
    await utimes(join(second, 'app/lib'), 2_000_000_000, 2_000_000_000);
    await chown(join(second, 'README.md'), 1234, 5678);
    await chmod(join(second, 'README.md'), 0o600);
    await chmod(join(second, 'app/bin/start'), 0o700);
    await chmod(join(second, 'app/public'), 0o700);

    for (const compression of ['zstd', 'gzip'] as const) {
      const a = await pack(first, ['app', 'config', 'README.md'], compression);
      const b = await pack(second, ['README.md', 'config', 'app'], compression);
      expect(b.bytes.equals(a.bytes)).toBe(true);
      expect(b.digest).toBe(a.digest);
      expect(a.digest).toBe(`sha256:${createHash('sha256').update(a.bytes).digest('hex')}`);
      expect(await bundleDigest(a.path)).toBe(a.digest);
      expect(a.size).toBe(a.bytes.length);
    }
  });

  it('changes the digest when one byte changes', async () => {
    const root = await tempDir();
    await writeTree(root, APP);
    const before = await pack(root, ['.']);
    await writeFile(join(root, 'app/lib/util.js'), 'export const x = 2;\n');
    const after = await pack(root, ['.']);
    expect(after.digest).not.toBe(before.digest);
  });

  it('writes a tar that GNU tar lists with normalised headers and extracts to the same tree', async () => {
    const root = await tempDir();
    await writeTree(root, APP);
    for (const [compression, flag] of [
      ['zstd', '--zstd'],
      ['gzip', '-z'],
    ] as const) {
      const bundle = await pack(root, ['.'], compression);
      const listing = tar([flag, '-tvf', bundle.path, '--numeric-owner', '--full-time'])
        .trim()
        .split('\n');
      expect(listing).toHaveLength(bundle.files + bundle.directories + bundle.symlinks);
      for (const line of listing) {
        expect(line).toMatch(/^(?:[-d]rw[-x]r-[-x]r-[-x]|lrwxrwxrwx) 0\/0 +\d+ /);
        expect(line).toContain('2023-11-14 22:13:20');
      }
      expect(listing.find((line) => line.includes('app/bin/start'))).toMatch(/^-rwxr-xr-x/);
      expect(listing.find((line) => line.includes('server.js'))).toMatch(/^-rw-r--r--/);
      expect(listing.find((line) => line.includes('app/lib/current'))).toMatch(
        /^lrwxrwxrwx .* app\/lib\/current -> util.js$/,
      );
      const names = listing.map((line) => line.split(/ +/).slice(5).join(' '));
      expect(names.slice(0, 4)).toEqual(['README.md', 'app/', 'app/bin/', 'app/bin/start']);

      const out = await tempDir();
      tar([flag, '-xf', bundle.path, '-C', out]);
      expect(await snapshot(out)).toEqual(await snapshot(root));
    }
  });

  it('includes parent directories, expands globs and reports what it packed', async () => {
    const root = await tempDir();
    await writeTree(root, APP);
    const bundle = await pack(root, ['app/**/*.js', 'config/app.toml']);
    expect(bundle).toMatchObject({ files: 3, directories: 3, symlinks: 0 });
    expect(bundle.topLevel).toEqual(['app', 'config']);
    const names = tar(['--zstd', '-tf', bundle.path]).trim().split('\n');
    expect(names).toEqual([
      'app/',
      'app/lib/',
      'app/lib/util.js',
      'app/server.js',
      'config/',
      'config/app.toml',
    ]);
  });

  it('takes a root reached through a symlink', async () => {
    const real = await tempDir();
    await writeTree(real, { 'a.txt': 'a\n' });
    const alias = join(await tempDir(), 'alias');
    await symlink(real, alias);
    const bundle = await pack(alias, ['.']);
    expect(tar(['--zstd', '-tf', bundle.path])).toBe('a.txt\n');
    expect(await refusal(resolveEntries(join(real, 'a.txt'), ['.']))).toMatch(
      /^bundle root ".*a\.txt": is not a directory$/,
    );
  });

  it('packs hardlinked files as regular files', async () => {
    const root = await tempDir();
    await writeTree(root, { 'a.txt': 'same inode\n' });
    await link(join(root, 'a.txt'), join(root, 'b.txt'));
    const bundle = await pack(root, ['.']);
    const listing = tar(['--zstd', '-tvf', bundle.path]);
    expect(listing).not.toContain(' link to ');
    expect(listing.match(/^-rw-r--r-- .* 11 /gm)).toHaveLength(2);
  });

  it('streams files larger than the read-ahead and keeps them intact', async () => {
    const root = await tempDir();
    const large = Buffer.alloc(5 * 1024 * 1024 + 123);
    for (let i = 0; i < large.length; i++) large[i] = (i * 7919) % 251;
    await writeTree(root, { 'big.bin': large, 'small.txt': 'x' });
    const bundle = await pack(root, ['.']);
    const out = await tempDir();
    tar(['--zstd', '-xf', bundle.path, '-C', out]);
    expect((await readFile(join(out, 'big.bin'))).equals(large)).toBe(true);
  });

  it('reports progress up to the last entry', async () => {
    const root = await tempDir();
    await writeTree(root, APP);
    const seen: number[] = [];
    await packBundle(
      {
        root,
        patterns: ['.'],
        compression: 'zstd',
        mtime: MTIME,
        onProgress: (p) => seen.push(p.entries),
      },
      join(await tempDir(), 'b.tar.zst'),
    );
    expect(seen.length).toBeGreaterThan(5);
    expect(seen.at(-1)).toBe(seen.length);
  });
});

describe('packBundle refuses', () => {
  async function refusedPack(spec: TreeSpec, patterns: string[]): Promise<string> {
    const root = await tempDir();
    await writeTree(root, spec);
    const destination = join(await tempDir(), 'bundle.tar.zst');
    const message = await refusal(
      packBundle({ root, patterns, compression: 'zstd', mtime: MTIME }, destination),
    );
    await expect(readFile(destination)).rejects.toThrow(/ENOENT/);
    return message;
  }

  it('a pattern that matches nothing', async () => {
    expect(await refusedPack({ 'a.txt': 'a' }, ['a.txt', 'dist/**'])).toMatch(
      /^"dist\/\*\*": matches nothing$/,
    );
    expect(await refusedPack({ 'a.txt': 'a' }, ['missing.txt'])).toMatch(
      /"missing.txt": matches nothing/,
    );
  });

  it('an absolute path or one that climbs out of the root', async () => {
    expect(await refusedPack({ 'a.txt': 'a' }, ['/etc/passwd'])).toMatch(
      /^"\/etc\/passwd": is absolute/,
    );
    expect(await refusedPack({ 'a.txt': 'a' }, ['../a.txt'])).toMatch(
      /^"..\/a.txt": contains '..'/,
    );
    expect(await refusedPack({ 'a.txt': 'a' }, ['x/../../*'])).toMatch(/contains '..'/);
  });

  it('a symlink pointing outside the bundle', async () => {
    expect(await refusedPack({ 'a.txt': 'a', passwd: { link: '/etc/passwd' } }, ['.'])).toMatch(
      /^symlink "passwd": points to an absolute path; expected a relative target inside the bundle, got "\/etc\/passwd"$/,
    );
    expect(await refusedPack({ 'd/up': { link: '../../x' } }, ['.'])).toBe(
      'symlink "d/up": points outside the bundle; got "../../x"',
    );
    // Each link alone stays inside; followed through one another, `a` lands above the root.
    expect(await refusedPack({ 'd/l': { link: '..' }, a: { link: 'd/l/..' } }, ['.'])).toMatch(
      /^symlink "a": points outside the bundle/,
    );
  });

  it('a path reached through a symlink', async () => {
    expect(await refusedPack({ 'real/x.txt': 'x', alias: { link: 'real' } }, ['alias/x.txt'])).toBe(
      'entry "alias/x.txt" below the symlink "alias": is reached through the symlink; name the link itself or its target',
    );
  });

  it('a fifo, a socket or a device', async () => {
    const root = await tempDir();
    await writeTree(root, { 'a.txt': 'a' });
    execFileSync('mkfifo', [join(root, 'pipe')]);
    expect(await refusal(resolveEntries(root, ['.']))).toBe(
      'entry "pipe": is a fifo; a bundle holds only files, directories and symlinks',
    );

    const sockets = await tempDir();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(sockets, 'app.sock'), resolve));
    try {
      expect(await refusal(resolveEntries(sockets, ['app.sock']))).toMatch(
        /^entry "app.sock": is a socket;/,
      );
    } finally {
      server.close();
    }

    expect(await refusal(resolveEntries('/dev', ['null']))).toMatch(/^entry "null": is a device;/);
  });

  it('an empty bundle', async () => {
    expect(await refusedPack({ 'empty/nested': { dir: 0o755 } }, ['empty'])).toBe(
      'the bundle: is empty; expected at least one file or symlink',
    );
  });

  it('a file that changed size after it was listed', async () => {
    const root = await tempDir();
    await writeTree(root, { 'a.txt': 'short' });
    const destination = join(await tempDir(), 'bundle.tar.zst');
    const entries = [{ path: 'a.txt', kind: 'file' as const, size: 5000, executable: false }];
    expect(
      await refusal(packBundle({ root, entries, compression: 'zstd', mtime: MTIME }, destination)),
    ).toMatch(/a\.txt": changed size while it was packed; run the build command before packing$/);
    await expect(readFile(destination)).rejects.toThrow(/ENOENT/);
  });

  it('an mtime that is not whole seconds', async () => {
    const root = await tempDir();
    await writeTree(root, { 'a.txt': 'a' });
    for (const mtime of [-1, 1.5, Number.NaN, 8 ** 11]) {
      expect(
        await refusal(
          packBundle({ root, patterns: ['.'], compression: 'zstd', mtime }, join(root, 'x')),
        ),
      ).toMatch(/^the bundle mtime: expected whole seconds since 1970, at most 8589934591, got /);
    }
  });
});

describe('checkedTar and unpackBundle on our own bundles', () => {
  it('rebuild the very tar inside the bundle, which GNU tar extracts', async () => {
    const root = await tempDir();
    await writeTree(root, APP);
    const bundle = await pack(root, ['.']);
    const chunks: Buffer[] = [];
    for await (const chunk of checkedTar(bundle.path)) chunks.push(chunk as Buffer);
    const plain = Buffer.concat(chunks);
    expect(plain.equals(zstdDecompressSync(bundle.bytes))).toBe(true);

    const out = await tempDir();
    const tarFile = join(out, '..', `${out.split('/').at(-1)}.tar`);
    await writeFile(tarFile, plain);
    tar(['-xf', tarFile, '-C', out]);
    expect(await snapshot(out)).toEqual(await snapshot(root));
  });

  it('unpack to the same tree and check the digest', async () => {
    const root = await tempDir();
    await writeTree(root, APP);
    for (const compression of ['zstd', 'gzip'] as const) {
      const bundle = await pack(root, ['.'], compression);
      const out = join(await tempDir(), 'release');
      const result = await unpackBundle(bundle.path, out, { expectedDigest: bundle.digest });
      expect(result).toEqual({
        digest: bundle.digest,
        files: bundle.files,
        directories: bundle.directories,
        symlinks: bundle.symlinks,
      });
      expect(await snapshot(out)).toEqual(await snapshot(root));
    }
  });

  it('refuse a bundle whose digest is not the expected one, leaving nothing', async () => {
    const root = await tempDir();
    await writeTree(root, APP);
    const bundle = await pack(root, ['.']);
    const parent = await tempDir();
    const out = join(parent, 'release');
    const wrong = `sha256:${'0'.repeat(64)}`;
    expect(await refusal(unpackBundle(bundle.path, out, { expectedDigest: wrong }))).toBe(
      `the bundle: expected the digest ${wrong}, got ${bundle.digest}`,
    );
    expect(await snapshot(parent)).toEqual([]);
  });

  it('refuse to unpack over a directory that is not empty', async () => {
    const root = await tempDir();
    await writeTree(root, APP);
    const bundle = await pack(root, ['.']);
    const out = await tempDir();
    await mkdir(join(out, 'old'));
    expect(await refusal(unpackBundle(bundle.path, out))).toMatch(
      /expected a new or empty directory/,
    );
    expect(await snapshot(out)).toEqual([{ path: 'old', kind: 'directory' }]);
  });
});
