import { chmod, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tempDir, type TreeSpec } from '../bundle-helpers.js';
import {
  bundleOf,
  indexOnHost,
  plainUnpack,
  transfer,
  treeOf,
  serializeIndex,
} from './delta-helpers.js';

/*
 * Two releases drawn from one small set of places, so the second shares much with the first:
 * each place holds nothing, a file (one of a few contents, either mode), a symlink or an empty
 * directory, in each release. A directory place holds files, or becomes a file itself. Between
 * the two deploys some files of the first are edited, chmod-ed or removed on the host.
 */

const NAMES = ['f', 'g.txt', 'h i', "q'", 'é中', 'back\\slash', 'new\nline'];
const CONTENTS = ['', 'one', 'two\n', 'x'.repeat(5000)];

type Slot =
  | { kind: 'none' }
  | { kind: 'file'; content: number; executable: boolean }
  | { kind: 'link'; target: number }
  | { kind: 'empty' };

const slot: fc.Arbitrary<Slot> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('file' as const),
      content: fc.nat(CONTENTS.length - 1),
      executable: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('link' as const), target: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'empty' as const }) },
);

/** A release: places at the top, in `a/` (or `a` is a file), and in `a/b/`. */
const release = fc.record({
  top: fc.array(slot, { minLength: NAMES.length, maxLength: NAMES.length }),
  a: fc.oneof(
    fc.array(slot, { minLength: NAMES.length, maxLength: NAMES.length }),
    fc.constant('file' as const),
  ),
  b: fc.array(slot, { minLength: NAMES.length, maxLength: NAMES.length }),
});
type Release = typeof release extends fc.Arbitrary<infer T> ? T : never;

/** The second release: each place kept from the first (mostly) or drawn anew. */
function successor(first: Release): fc.Arbitrary<Release> {
  const keepOr = (slots: Slot[]) =>
    fc.tuple(...slots.map((kept) => fc.oneof({ weight: 3, arbitrary: fc.constant(kept) }, slot)));
  return fc.record({
    top: keepOr(first.top),
    a:
      first.a === 'file'
        ? fc.oneof(
            fc.constant('file' as const),
            release.map((r) => r.a),
          )
        : fc.oneof({ weight: 4, arbitrary: keepOr(first.a) }, fc.constant('file' as const)),
    b: keepOr(first.b),
  });
}

function place(spec: TreeSpec, dir: string, slots: Slot[], depth: number): void {
  // Never a place's own name: a link to itself is a loop, which no bundle may hold.
  const targets =
    [
      ['always-there', 'a/g.txt', 'nowhere'],
      ['../always-there', 'b', 'nowhere'],
      ['../../always-there', '..', 'nowhere'],
    ][depth] ?? [];
  slots.forEach((value, at) => {
    const name = `${dir}${NAMES[at]}`;
    if (value.kind === 'file') {
      spec[name] = {
        content: CONTENTS[value.content] ?? '',
        mode: value.executable ? 0o755 : 0o644,
      };
    } else if (value.kind === 'link') {
      spec[name] = { link: targets[value.target] ?? 'f' };
    } else if (value.kind === 'empty') {
      spec[`${name}/`] = { dir: 0o755 };
    }
  });
}

function treeSpec(value: Release): TreeSpec {
  const spec: TreeSpec = { 'always-there': 'so no release is empty\n' };
  place(spec, '', value.top, 0);
  if (value.a === 'file') spec.a = 'a is a file now\n';
  else {
    place(spec, 'a/', value.a, 1);
    place(spec, 'a/b/', value.b, 2);
  }
  return spec;
}

type HostEdit = 'none' | 'content' | 'same-size' | 'chmod' | 'remove';
const hostEdits = fc.array(
  fc.constantFrom<HostEdit>('none', 'none', 'none', 'content', 'same-size', 'chmod', 'remove'),
  { minLength: 16, maxLength: 16 },
);

async function editOnHost(release: string, spec: TreeSpec, edits: HostEdit[]): Promise<void> {
  const files = Object.entries(spec).filter(
    ([, value]) => typeof value === 'object' && 'content' in value,
  );
  for (const [at, [name]] of files.entries()) {
    const file = path.join(release, name);
    const edit = edits[at % edits.length];
    if (edit === 'content') await writeFile(file, 'edited on the host\n');
    if (edit === 'same-size') {
      // Other bytes of the same length, and the mtime set back: only the ctime tells.
      const before = await stat(file);
      const bytes = await readFile(file);
      await writeFile(
        file,
        bytes.map((byte) => byte ^ 1),
      );
      await utimes(file, before.atime, before.mtime);
    }
    if (edit === 'chmod') await chmod(file, 0o700);
    if (edit === 'remove') await rm(file);
  }
}

describe('a release built from the one before, over many random changes', () => {
  it('is the same tree as the new bundle unpacked in full', async () => {
    const cases = release.chain((first) =>
      fc.tuple(fc.constant(first), successor(first), hostEdits),
    );
    let carried = 0;
    let sentAgain = 0;
    await fc.assert(
      fc.asyncProperty(cases, async ([first, second, edits]) => {
        const root = path.join(await tempDir(), 'deploy');
        const firstSpec = treeSpec(first);
        const v1 = await bundleOf(firstSpec);
        await transfer({ root, id: 'v1', bundle: v1 });
        await editOnHost(path.join(root, 'releases/v1'), firstSpec, edits);
        const v2 = await bundleOf(treeSpec(second));
        const sent = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });
        carried += sent.linked.length;
        sentAgain += sent.sent;

        const built = await treeOf(path.join(root, 'releases/v2'), ['.release', '.env']);
        expect(built).toEqual(await treeOf(await plainUnpack(v2)));
        expect(await indexOnHost(root, 'v2')).toBe(serializeIndex(sent.next));
      }),
      { numRuns: 40 },
    );
    // Both ways were taken, many times: files linked from the first release, and files sent.
    expect(carried).toBeGreaterThan(100);
    expect(sentAgain).toBeGreaterThan(100);
  });
});
