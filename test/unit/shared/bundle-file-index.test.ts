import { serializeIndex } from './host/delta-helpers.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packBundle } from '../../../shared/bundle.js';
import {
  decodeField,
  diffIndex,
  encodeField,
  indexLine,
  INDEX_HEADER,
  isPlainPath,
  sortIndex,
  type IndexDiff,
  type IndexEntry,
} from '../../../shared/bundle/file-index.js';
import { ContentRecorder, type ContentEntry } from '../../../shared/bundle/content.js';
import { payloadOf } from '../../helpers/payload.js';
import { tempDir, writeTree, type TreeSpec } from './bundle-helpers.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** An index entry without what the runner keeps besides: where the file's bytes are. */
function withoutPlace(entry: IndexEntry): IndexEntry {
  const { mtime, offset, ...rest } = entry as ContentEntry;
  void mtime;
  void offset;
  return rest;
}

/** The index of a bundle, as the pass that verifies it records it. */
async function indexBundle(source: string): Promise<IndexEntry[]> {
  return [...(await payloadOf(source)).index].map(withoutPlace);
}

/** The entries of a diff's new index that are linked, or (`false`) that travel. */
function linkedIn(diff: IndexDiff, linked = true): IndexEntry[] {
  return [...diff.next].filter((_, at) => (diff.linked[at] === 1) === linked);
}

async function bundle(spec: TreeSpec): Promise<string> {
  const dir = await tempDir();
  await writeTree(join(dir, 'tree'), spec);
  const file = join(dir, 'bundle.tar.zst');
  await packBundle(
    { root: join(dir, 'tree'), patterns: ['.'], compression: 'zstd', mtime: 1_700_000_000 },
    file,
  );
  return file;
}

const file = (path: string, content: string, mode = 0o644): IndexEntry => ({
  path,
  kind: 'file',
  mode,
  size: Buffer.byteLength(content),
  sha256: sha(content),
});

describe('the index of a bundle', () => {
  it('lists every entry with its kind, mode, size, sha256 and link target', async () => {
    const source = await bundle({
      'app.js': 'hello\n',
      'bin/run': { content: '#!/bin/sh\n', mode: 0o700 },
      latest: { link: 'app.js' },
      'empty/': { dir: 0o700 },
    });
    expect(await indexBundle(source)).toEqual([
      file('app.js', 'hello\n'),
      { path: 'bin', kind: 'directory', mode: 0o755, size: 0 },
      file('bin/run', '#!/bin/sh\n', 0o755),
      { path: 'empty', kind: 'directory', mode: 0o755, size: 0 },
      { path: 'latest', kind: 'symlink', mode: 0o777, size: 0, linkTarget: 'app.js' },
    ]);
  });

  it("is recorded entry by entry in the pass that checks the bundle, with every file's bytes", async () => {
    const big = randomBytes(3 * 1024 * 1024);
    const source = await bundle({ 'a/b.txt': 'b', 'a/big': big, 'a/c.txt': 'c', z: { link: 'a' } });
    const dir = await tempDir();
    const recorder = await ContentRecorder.create(join(dir, 'content'));
    let digest = '';
    await recorder.record(createReadStream(source), { onDigest: (d) => (digest = d) });
    const content = await recorder.finish();
    expect(digest).toMatch(/^sha256:/);
    expect([...content.index].map(withoutPlace)).toEqual(await indexBundle(source));
    expect([...content.entries].map((entry) => entry.path)).toEqual([
      'a',
      'a/b.txt',
      'a/big',
      'a/c.txt',
      'z',
    ]);
    const bytes = await readFile(content.file);
    expect(bytes.length).toBe(big.length + 2);
    for (const entry of [...content.entries].filter((e) => e.kind === 'file')) {
      const held = bytes.subarray(entry.offset, entry.offset + entry.size);
      expect(createHash('sha256').update(held).digest('hex')).toBe(entry.sha256);
    }
  });

  it('has one text: lines sorted as LC_ALL=C sort sorts them, each file found in it again', async () => {
    const source = await bundle({
      'a b': '1',
      'a-b': '2',
      'a/b': '3',
      'a\tb': '4',
      'é/x': '5',
      'z\\y': '6',
      'new\nline': '7',
      "it's": '8',
    });
    const index = await indexBundle(source);
    const text = serializeIndex(index);
    const lines = text.split('\n').slice(1, -1);
    const sorted = spawnSync('sort', { input: `${lines.join('\n')}\n`, env: { LC_ALL: 'C' } });
    expect(sorted.stdout.toString()).toBe(`${lines.join('\n')}\n`);
    expect(text.startsWith(`${INDEX_HEADER}\n`)).toBe(true);
    // Compared with its own text, an index finds every file the host can name plainly.
    const plainFiles = index.filter((entry) => entry.kind === 'file' && isPlainPath(entry.path));
    expect(linkedIn(diffIndex(text, index))).toEqual(plainFiles);
    expect(plainFiles.length).toBeGreaterThan(4);
    expect(serializeIndex([...index].reverse())).toBe(text);
    expect(text).toContain('new\\x0aline\t');
    expect(text).toContain('a\\x09b\t');
    expect(text).toContain('z\\\\y\t');
  });

  it('encodes any path on one field and decodes it back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1 }), (path) => {
        const field = encodeField(path);
        expect(field).not.toMatch(/[\t\n\r]/);
        expect(decodeField(field)).toBe(path);
      }),
    );
  });

  it('sorts entries by their lines, byte by byte, comparing only paths', () => {
    const paths = fc.uniqueArray(fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }), {
      minLength: 2,
      maxLength: 30,
    });
    fc.assert(
      fc.property(paths, (names) => {
        const entries = names.map((name, at) => file(name, String(at)));
        const byLines = [...entries].sort((a, b) =>
          Buffer.compare(Buffer.from(indexLine(a)), Buffer.from(indexLine(b))),
        );
        expect(sortIndex(entries)).toEqual(byLines);
      }),
    );
  });

  it('keeps entries already in that order as they are, and sorts those only in byte order', () => {
    const packed = ['a', 'a/b', 'a0', 'b'].map((name) => file(name, name));
    expect(sortIndex(packed)).toBe(packed);
    // In the order build-action packs (raw bytes: 0x01 before '0'), not the index's: escaped,
    // the control character is `\x01`, after '0'.
    const raw = [file('a\x01', 'x'), file('a0', 'y')];
    expect(sortIndex(raw).map((entry) => entry.path)).toEqual(['a0', 'a\x01']);
  });

  it('refuses what is not an index, and finds nothing in a line that is not well formed', () => {
    const entry = file('a', 'x');
    const good = serializeIndex([entry]);
    expect(linkedIn(diffIndex(good, [entry]))).toEqual([entry]);
    expect(() => diffIndex('', [entry])).toThrow(/not a release index/);
    expect(() => diffIndex(good.replace(INDEX_HEADER, 'brr-index 2'), [entry])).toThrow(
      /not a release/,
    );
    expect(() => diffIndex(good.slice(0, -1), [entry])).toThrow(/not a release index/);
    const line = indexLine(entry);
    for (const bad of [
      line.replace(sha('x'), 'not-a-digest'),
      line.replace('\t644\t', '\t0644\t'),
      line.replace('\t1\t', '\t01\t'),
      `${line}\t`,
      ` ${line}`,
    ]) {
      expect(linkedIn(diffIndex(`${INDEX_HEADER}\n${bad}\n`, [entry])), bad).toEqual([]);
    }
  });
});

describe('diffIndex', () => {
  const base = [
    file('same', 'same'),
    file('edited', 'before'),
    file('chmod', 'mode', 0o644),
    file('gone', 'bye'),
    file('odd\\name', 'same'),
    { path: 'dir', kind: 'directory', mode: 0o755, size: 0 } as IndexEntry,
    { path: 'link', kind: 'symlink', mode: 0o777, size: 0, linkTarget: 'same' } as IndexEntry,
  ];

  it('links files unchanged in path, mode, size and sha256; sends the rest', () => {
    const next = sortIndex([
      file('same', 'same'),
      file('edited', 'after!'),
      file('chmod', 'mode', 0o755),
      file('new', 'hello'),
      file('odd\\name', 'same'),
      base[5] as IndexEntry,
      base[6] as IndexEntry,
    ]);
    const diff = diffIndex(serializeIndex(base), next);
    expect(linkedIn(diff).map((entry) => entry.path)).toEqual(['same']);
    expect(linkedIn(diff, false).map((entry) => entry.path)).toEqual([
      'chmod',
      'dir',
      'edited',
      'link',
      'new',
      'odd\\name',
    ]);
    expect(diff.unmatched.sort()).toEqual(['chmod', 'edited', 'gone', 'odd\\\\name']);
  });

  it('sends a file that was a symlink or a directory under the same path', () => {
    const next = sortIndex([file('link', 'same'), file('dir', '')]);
    expect(linkedIn(diffIndex(serializeIndex(base), next))).toEqual([]);
  });

  it('writes lines the host reads with awk: six tab-separated fields', () => {
    const line = indexLine(file('a b/c', 'x'));
    const fields = execFileSync('awk', ['-F', '\t', '{ print NF, $1, $2, $3 }'], {
      input: `${line}\n`,
    });
    expect(fields.toString()).toBe('6 a b/c f 644\n');
  });
});
