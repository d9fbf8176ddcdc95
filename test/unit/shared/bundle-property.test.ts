import { execFileSync } from 'node:child_process';
import { join, posix } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packBundle } from '../../../shared/bundle.js';
import { unpackBundle } from './unpack.js';
import { snapshot, tempDir, writeTree, type TreeSpec } from './bundle-helpers.js';

/** Names a user could give a file: spaces, dots, dashes, unicode; never `.`, `..` or a `/`. */
const name = fc
  .string({
    unit: fc.constantFrom(...'abcXYZ019 ._-+=@~éß中😀'.split(/(?:)/u)),
    minLength: 1,
    maxLength: 12,
  })
  .filter((value) => value !== '.' && value !== '..');

interface Node {
  files: { name: string; content: Uint8Array; executable: boolean }[];
  dirs: { name: string; node: Node }[];
}

const file = fc.record({
  name,
  content: fc.uint8Array({ maxLength: 3000 }),
  executable: fc.boolean(),
});

/** A directory at most `depth` levels deep; one name per directory, whichever kind took it. */
function directory(depth: number): fc.Arbitrary<Node> {
  const dirs: fc.Arbitrary<Node['dirs']> =
    depth === 0
      ? fc.constant([])
      : fc.array(fc.record({ name, node: directory(depth - 1) }), { maxLength: 3 });
  return fc.record({ files: fc.array(file, { maxLength: 4 }), dirs }).map(({ files, dirs }) => {
    const seen = new Set<string>();
    const unique = <T extends { name: string }>(items: T[]) =>
      items.filter((item) => !seen.has(item.name) && seen.add(item.name));
    return { files: unique(files), dirs: unique(dirs) };
  });
}

/** The tree as a spec, plus symlinks from chosen directories to chosen paths inside it. */
function spec(root: Node, links: [number, number][]): TreeSpec {
  const out: TreeSpec = {};
  const paths: string[] = [];
  const directories: string[] = [''];
  const walk = (node: Node, prefix: string) => {
    for (const file of node.files) {
      const path = prefix + file.name;
      out[path] = { content: Buffer.from(file.content), mode: file.executable ? 0o755 : 0o644 };
      paths.push(path);
    }
    for (const dir of node.dirs) {
      const path = prefix + dir.name;
      out[path] = { dir: 0o755 };
      paths.push(path);
      directories.push(path);
      walk(dir.node, `${path}/`);
    }
  };
  walk(root, '');
  for (const [from, to] of links) {
    if (paths.length === 0) break;
    const directory = directories[from % directories.length] as string;
    const target = paths[to % paths.length] as string;
    const linkPath = `${directory ? `${directory}/` : ''}link-${from}-${to}`;
    if (linkPath in out) continue;
    out[linkPath] = { link: posix.relative(directory || '.', target) || '.' };
  }
  return out;
}

describe('pack → unpack', () => {
  it('round-trips arbitrary small trees, and GNU tar agrees', async () => {
    await fc.assert(
      fc.asyncProperty(
        directory(3),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 3 }),
        async (root, links) => {
          const files = spec(root, links);
          fc.pre(
            Object.values(files).some((value) => typeof value !== 'object' || !('dir' in value)),
          );
          const source = await tempDir();
          await writeTree(source, files);
          const bundle = join(await tempDir(), 'bundle.tar.zst');
          const packed = await packBundle(
            { root: source, patterns: ['.'], compression: 'zstd', mtime: 0 },
            bundle,
          );
          const expected = await snapshot(source);

          const ours = join(await tempDir(), 'release');
          const unpacked = await unpackBundle(bundle, ours, { expectedDigest: packed.digest });
          expect(await snapshot(ours)).toEqual(expected);
          expect(unpacked.files + unpacked.symlinks).toBe(packed.files + packed.symlinks);

          const theirs = await tempDir();
          execFileSync('tar', ['--zstd', '-xf', bundle, '-C', theirs]);
          expect(await snapshot(theirs)).toEqual(expected);
        },
      ),
      { numRuns: 40 },
    );
  });
});
