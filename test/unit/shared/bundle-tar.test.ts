import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareUtf8 } from '../../../shared/bundle/rules.js';
import { encodeHeader, END_OF_ARCHIVE, paddingAfter } from '../../../shared/bundle/tar.js';
import { tempDir } from './bundle-helpers.js';

/** What GNU tar lists for an archive of these header blocks (file contents left out). */
async function gnuListing(blocks: Buffer[]): Promise<{ listing: string; errors: string }> {
  const file = join(await tempDir(), 'headers.tar');
  await writeFile(file, Buffer.concat([...blocks, END_OF_ARCHIVE]));
  const result = spawnSync('tar', ['-tvf', file, '--numeric-owner', '--full-time'], {
    encoding: 'utf-8',
  });
  return { listing: result.stdout, errors: result.stderr };
}

describe('tar headers', () => {
  it('hold names up to 255 bytes in ustar, split at a slash', async () => {
    const path = `${'a'.repeat(150)}/${'b'.repeat(99)}`;
    const header = encodeHeader({ path, kind: 'file', size: 0, executable: true }, 0);
    expect(header).toHaveLength(512);
    const { listing } = await gnuListing([header]);
    expect(listing).toMatch(new RegExp(`^-rwxr-xr-x 0/0 +0 1970-01-01 00:00:00 ${path}\\n$`));
  });

  it('put what ustar cannot hold into a pax header that GNU tar reads', async () => {
    const long = 'x'.repeat(180);
    const unicode = 'répertoire/ファイル.txt';
    const target = `${'../'.repeat(10)}${'t'.repeat(90)}`;
    const blocks = [
      encodeHeader({ path: long, kind: 'file', size: 0, executable: false }, 1_700_000_000),
      encodeHeader({ path: `${long}-dir`, kind: 'directory', size: 0, executable: true }, 0),
      encodeHeader({ path: unicode, kind: 'file', size: 0, executable: false }, 0),
      encodeHeader(
        { path: 'l', kind: 'symlink', size: 0, executable: false, linkTarget: target },
        0,
      ),
    ];
    expect(blocks.map((block) => block.length)).toEqual([1536, 1536, 1536, 1536]);
    const { listing, errors } = await gnuListing(blocks);
    expect(errors).toBe('');
    expect(listing.trim().replace(/ +/g, ' ').split('\n')).toEqual([
      `-rw-r--r-- 0/0 0 2023-11-14 22:13:20 ${long}`,
      `drwxr-xr-x 0/0 0 1970-01-01 00:00:00 ${long}-dir/`,
      `-rw-r--r-- 0/0 0 1970-01-01 00:00:00 ${unicode}`,
      `lrwxrwxrwx 0/0 0 1970-01-01 00:00:00 l -> ${target}`,
    ]);
  });

  it('give files of 8 GiB or more a pax size', async () => {
    const size = 9 * 1024 ** 3 + 7;
    const header = encodeHeader({ path: 'huge.bin', kind: 'file', size, executable: false }, 0);
    // GNU tar lists the entry, then runs out of archive where the content should be.
    const { listing } = await gnuListing([header]);
    expect(listing).toMatch(new RegExp(`^-rw-r--r-- 0/0 +${size} .* huge\\.bin$`, 'm'));
  });

  it('pad content to whole blocks', () => {
    expect([0, 1, 511, 512, 513].map(paddingAfter)).toEqual([0, 511, 1, 0, 511]);
  });

  it('are sorted by UTF-8 bytes', () => {
    const names = ['b', 'a/b', 'a-b', 'a', '\u{1F600}', '\uFF21', 'é', 'Z'];
    const byBytes = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...names].sort(compareUtf8)).toEqual(byBytes);
  });
});
