import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { zstdCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  checkedEntries,
  checkedTar,
  DEFAULT_EXPANSION_FLOOR,
  defaultMaxExpandedBytes,
  resolveEntries,
  type CheckOptions,
} from '../../../shared/bundle.js';
import { ConfigurationError } from '../../../shared/errors.js';
import { handMadeTar, tempDir, type TarEntrySpec } from './bundle-helpers.js';

/** The paths checkedEntries yields, or its refusal's message (one line, checked). */
async function read(archive: Buffer, options: CheckOptions = {}): Promise<string[] | string> {
  const paths: string[] = [];
  try {
    for await (const entry of checkedEntries(Readable.from([archive]), options)) {
      paths.push(entry.path);
    }
    return paths;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    const message = (error as Error).message;
    // eslint-disable-next-line no-control-regex
    expect(message).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect(message.length).toBeLessThanOrEqual(1500);
    return message;
  }
}

async function refusal(archive: Buffer, options: CheckOptions = {}): Promise<string> {
  const result = await read(archive, options);
  expect(typeof result, JSON.stringify(result).slice(0, 200)).toBe('string');
  return result as string;
}

const OK: TarEntrySpec = { name: 'ok.txt', content: 'fine\n' };

/** `tar` with `bytes` written at `offset` of its first header, the checksum made right again. */
function patched(tar: Buffer, offset: number, bytes: Buffer | string): Buffer {
  Buffer.from(bytes).copy(tar, offset);
  tar.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += tar[i]!;
  tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return tar;
}

async function withField(offset: number, bytes: Buffer | string): Promise<Buffer> {
  return patched(await handMadeTar([OK]), offset, bytes);
}

describe('every tar header field is checked before an entry is handed on', () => {
  it('accepts the archive the fields come from', async () => {
    expect(await read(await handMadeTar([OK]))).toEqual(['ok.txt']);
  });

  it('refuses an archive cut short at an entry’s end: it would read as a smaller one', async () => {
    const whole = await handMadeTar([OK, { name: 'b.txt', content: 'second\n' }]);
    // The first entry is a header and a block of content: the cut leaves it whole.
    expect(await refusal(whole.subarray(0, 1024))).toBe(
      'the bundle: is not a valid tar: the archive ends without its end-of-archive blocks',
    );
    expect(await read(whole)).toEqual(['ok.txt', 'b.txt']);
  });

  it('refuses an mtime that is garbage, negative or beyond what a rebuilt header holds', async () => {
    expect(await refusal(await withField(136, 'zzzzzzzzzzz\0'))).toBe(
      'the bundle: is not a valid tar: the mtime field is not an octal number; got "zzzzzzzzzzz\\u0000"',
    );
    expect(await refusal(await withField(136, '0000000123x\0'))).toMatch(
      /^the bundle: is not a valid tar: the mtime field is not an octal number/,
    );
    const negative = Buffer.alloc(12, 0xff);
    expect(await refusal(await withField(136, negative))).toBe(
      'the bundle: is not a valid tar: the mtime field is negative',
    );
    const late = Buffer.alloc(12);
    late[0] = 0x80;
    late.writeUIntBE(8 ** 11, 6, 6);
    expect(await refusal(await withField(136, late))).toBe(
      'entry "ok.txt": has an mtime out of range; expected whole seconds from 0 to 8589934591, got 8589934592',
    );
    const pax = await handMadeTar([{ ...OK, pax: { mtime: 'soon' } }]);
    expect(await refusal(pax)).toBe(
      'the bundle: is not a valid tar: the pax mtime record is not a number; got "soon"',
    );
  });

  it('refuses garbage in the other numeric fields and a wrong checksum', async () => {
    for (const [offset, field] of [
      [100, 'mode'],
      [108, 'uid'],
      [116, 'gid'],
      [124, 'size'],
      [329, 'devmajor'],
    ] as const) {
      expect(await refusal(await withField(offset, '9'))).toMatch(
        new RegExp(`^the bundle: is not a valid tar: the ${field} field is not an octal number`),
      );
    }
    const tar = await handMadeTar([OK]);
    tar[0] = 0x4f;
    expect(await refusal(tar)).toBe(
      'the bundle: is not a valid tar: a header checksum does not match',
    );
  });

  it('refuses what it does not know rather than guess: no magic, pax globals, sparse files', async () => {
    expect(await refusal(await withField(257, 'tarus\0'))).toMatch(
      /^the bundle: is not a valid tar: a header has no ustar magic; got /,
    );
    // A pax header made global: what `git archive` writes first.
    const global = patched(await handMadeTar([{ ...OK, pax: { comment: 'x' } }]), 156, 'g');
    expect(await refusal(global)).toMatch(
      /^entry "PaxHeader": has a type a bundle cannot hold; got typeflag "g"$/,
    );
    const sparse = await handMadeTar([{ ...OK, pax: { 'GNU.sparse.major': '1' } }]);
    expect(await refusal(sparse)).toBe(
      'the bundle: is not a valid tar: sparse files are not supported',
    );
  });

  it('never passes a header it cannot write again to the host’s tar', async () => {
    const tar = await withField(136, 'zzzzzzzzzzz\0');
    const rebuilt = (async () => {
      for await (const chunk of checkedTar(Readable.from([tar]))) void chunk;
    })();
    await expect(rebuilt).rejects.toThrow(/mtime field is not an octal number/);
  });

  it('reads what GNU tar writes in each of its formats: long names, long targets, unicode', async () => {
    const from = await tempDir();
    const long = `${'dir-'.repeat(30)}/${'name-'.repeat(30)}.txt`;
    await mkdir(join(from, 'tree', 'dir-'.repeat(30)), { recursive: true });
    await writeFile(join(from, 'tree', long), 'x');
    await writeFile(join(from, 'tree', 'répertoire.txt'), 'y');
    await symlink(`${'../'.repeat(1)}tree/${long}`, join(from, 'tree', 'link'));
    for (const format of ['gnu', 'pax']) {
      const archive = join(await tempDir(), 'gnu.tar');
      execFileSync('tar', ['--format', format, '-cf', archive, '-C', from, 'tree']);
      const listed = execFileSync('tar', ['-tf', archive], { encoding: 'utf-8' })
        .trim()
        .split('\n')
        .map((path) => path.replace(/\/$/, ''));
      expect(await read(await readFile(archive)), format).toEqual(listed);
    }
  });
});

describe('names and paths a host can create', () => {
  it('takes a name of 255 bytes and a path of 4,095, as the kernel does, and no more', async () => {
    const longest = `${'é'.repeat(127)}x`;
    expect(Buffer.byteLength(longest)).toBe(255);
    expect(await read(await handMadeTar([{ name: longest, content: '' }]))).toEqual([longest]);
    expect(await refusal(await handMadeTar([{ name: `${longest}x`, content: '' }]))).toBe(
      `entry "${longest}x": has a name of 256 bytes; expected at most 255 (NAME_MAX)`,
    );
    const path = `${`${'d'.repeat(254)}/`.repeat(16)}${'f'.repeat(15)}`;
    expect(Buffer.byteLength(path)).toBe(4095);
    expect(await read(await handMadeTar([{ name: path, content: '' }]))).toEqual([path]);
    const message = await refusal(await handMadeTar([{ name: `${path}x`, content: '' }]));
    expect(message).toMatch(/^entry "d+\/d+.*…: has a path of 4096 bytes; expected at most 4095/);
  });

  it('takes a symlink target of 4,095 bytes and no more', async () => {
    const target = `${'x/'.repeat(2047)}y`;
    const link = (linkname: string) => handMadeTar([OK, { name: 'l', type: 'symlink', linkname }]);
    expect(await read(await link(target))).toEqual(['ok.txt', 'l']);
    expect(await refusal(await link(`${target}y`))).toBe(
      'symlink "l": has a target of 4096 bytes; expected at most 4095 (PATH_MAX)',
    );
  });

  it('gives GNU tar only paths it extracts', async () => {
    const path = `${'d'.repeat(255)}/`.repeat(15) + 'f'.repeat(255);
    const chunks: Buffer[] = [];
    const source = Readable.from([await handMadeTar([{ name: path, content: 'deep\n' }])]);
    for await (const chunk of checkedTar(source)) chunks.push(chunk as Buffer);
    const out = await mkdtemp(join(tmpdir(), 'bundle-deep-'));
    try {
      const file = join(out, 'rebuilt.tar');
      await writeFile(file, Buffer.concat(chunks));
      execFileSync('tar', ['-xf', 'rebuilt.tar'], { cwd: out });
      // Read from inside: the absolute path would be longer than PATH_MAX.
      expect(execFileSync('cat', [path], { cwd: out, encoding: 'utf-8' })).toBe('deep\n');
    } finally {
      execFileSync('rm', ['-rf', out]);
    }
  });

  it('refuses a name that is not UTF-8, showing its bytes escaped', async () => {
    const archive = await withField(0, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0]));
    expect(await refusal(archive)).toBe('entry "caf\\xe9": has a name that is not valid UTF-8');
  });
});

describe('untrusted names are shown escaped and cut short', () => {
  it('a NUL or an ANSI escape in an entry name', async () => {
    const nul = await handMadeTar([{ ...OK, pax: { path: 'a\u0000b' } }]);
    expect(await refusal(nul)).toBe('entry "a\\u0000b": contains a NUL byte');
    const ansi = await handMadeTar([{ name: '\u001b[31mred', type: 'fifo' }]);
    expect(await refusal(ansi)).toBe(
      'entry "\\u001b[31mred": is a fifo; a bundle holds only files, directories and symlinks',
    );
  });

  it('a 1 MB entry name', async () => {
    const name = `\u001b]0;${'n'.repeat(1_000_000)}`;
    const message = await refusal(await handMadeTar([{ ...OK, pax: { path: name } }]));
    expect(message).toMatch(/^entry "\\u001b\]0;nnnn/);
    expect(message).toMatch(/…: has a path of 1000004 bytes; expected at most 4095 \(PATH_MAX\)$/);
  });
});

describe('the expanded size', () => {
  it('is capped: a small bundle that expands far is refused as it is read', async () => {
    const zeros = zstdCompressSync(
      await handMadeTar([{ name: 'zeros', content: '\0'.repeat(8 << 20) }]),
    );
    expect(zeros.length).toBeLessThan(4096);
    expect(await read(zeros, { maxExpandedBytes: 9 << 20 })).toEqual(['zeros']);
    expect(await refusal(zeros, { maxExpandedBytes: 4 << 20 })).toBe(
      'the bundle: expands to more than 4194304 bytes, the most allowed for it; a bundle this much larger unpacked than packed would fill a host’s disk',
    );
  });

  it('defaults to a hundred times the bundle, and never less than 1 GiB', () => {
    expect(DEFAULT_EXPANSION_FLOOR).toBe(2 ** 30);
    expect(defaultMaxExpandedBytes(135 * 1024)).toBe(2 ** 30);
    expect(defaultMaxExpandedBytes(50 * 2 ** 20)).toBe(5000 * 2 ** 20);
  });
});

describe('entry checks are linear in the entries', () => {
  /**
   * A chain of directories `d/d/d/…` 2,000 deep (the longest path a host takes), a file at the
   * top and at the bottom, and half-way down a link that climbs `up` levels to the top file.
   */
  function chain(up: number): TarEntrySpec[] {
    const entries: TarEntrySpec[] = [{ name: 'top.txt', content: 'top\n' }];
    let path = '';
    for (let depth = 1; depth <= 2000; depth++) {
      path = path === '' ? 'd' : `${path}/d`;
      entries.push({ name: `${path}/`, type: 'directory' });
      if (depth === 1000) {
        entries.push({
          name: `${path}/up`,
          type: 'symlink',
          linkname: `${'../'.repeat(up)}top.txt`,
        });
      }
    }
    entries.push({ name: `${path}/f`, content: 'bottom\n' });
    return entries;
  }

  it('checks a chain 2,000 directories deep, following its links, in one pass', async () => {
    const inside = await read(await handMadeTar(chain(1000)));
    expect(inside).toHaveLength(2003);
    expect((inside as string[]).at(-1)).toBe(`${'d/'.repeat(2000)}f`);
    const outside = await refusal(await handMadeTar(chain(1001)));
    expect(outside).toMatch(/^symlink "(d\/)+.*: points outside the bundle; got "(\.\.\/)+/);
  });

  it('follows as many links in one lookup as the kernel does, and no more', async () => {
    const links = (count: number) => {
      const entries: TarEntrySpec[] = [OK, { name: 'l0', type: 'symlink', linkname: 'ok.txt' }];
      for (let i = 1; i < count; i++) {
        entries.push({ name: `l${i}`, type: 'symlink', linkname: `l${i - 1}` });
      }
      return handMadeTar(entries);
    };
    expect(await read(await links(40))).toHaveLength(41);
    expect(await refusal(await links(42))).toBe(
      'symlink "l41": is part of a loop or a chain too deep',
    );
    // Each link through the one before, twice: walked again for every lookup, this doubles per link.
    const fan: TarEntrySpec[] = [OK, { name: 'm0', type: 'symlink', linkname: '.' }];
    for (let i = 1; i < 30; i++) {
      fan.push({ name: `m${i}`, type: 'symlink', linkname: `m${i - 1}/m${i - 1}` });
    }
    expect(await refusal(await handMadeTar(fan))).toBe(
      'symlink "m5": is part of a loop or a chain too deep',
    );
  });
});

describe('the paths to pack', () => {
  it('lists a deep tree in one pass and refuses a name that is not UTF-8, escaped', async () => {
    const root = await tempDir();
    const deep = 'd/'.repeat(1500);
    await mkdir(join(root, deep), { recursive: true });
    await writeFile(join(root, deep, 'f'), 'x');
    const entries = await resolveEntries(root, ['.']);
    expect(entries).toHaveLength(1501);
    await writeFile(Buffer.from(`${root}/caf\xe9\u001b`, 'latin1'), 'x');
    const error = await resolveEntries(root, ['.']).catch((caught: unknown) => caught);
    expect((error as Error).message).toBe(
      'entry "caf\\xe9\\x1b": has a name that is not valid UTF-8; a bundle’s names are UTF-8, as every host reads them',
    );
  });
});

describe('entry names', () => {
  it('are read in normal form, however they were written', async () => {
    const tar = await handMadeTar([
      { name: './', type: 'directory' },
      { name: 'a//', type: 'directory' },
      { name: './a/./b.txt', content: 'b' },
      { name: 'a//c.txt', content: 'c' },
    ]);
    expect(await read(tar)).toEqual(['a', 'a/b.txt', 'a/c.txt']);
  });
});
