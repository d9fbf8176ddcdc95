import { createCipheriv, createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** The shape of a generated tree: many small files in nested directories, a few large ones. */
export interface TreeShape {
  name: string;
  smallFiles: number;
  largeFiles: number;
  largeBytes: number;
}

export const TREES = {
  large: { name: 'tree-1g', smallFiles: 20_000, largeFiles: 2, largeBytes: 192 * 2 ** 20 },
  small: { name: 'tree-100m', smallFiles: 2_000, largeFiles: 1, largeBytes: 40 * 2 ** 20 },
} satisfies Record<string, TreeShape>;

/** Bumped whenever the content recipe changes, so a cached tree is rebuilt. */
const RECIPE = 'v1';
const BLOCK = 4096;
const ALPHABET = Buffer.from('etaoinshrdlucmfwypvbgkjqxz ETAON');

/**
 * Deterministic bytes that compress to roughly 45%: a keystream mapped onto 32 letters (about
 * five bits of entropy per byte), with a share of 4 KiB blocks repeated from shortly before, so
 * zstd finds both literals to encode and matches to take.
 */
export function content(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const bytes = cipher.update(Buffer.alloc(size));
  for (let start = 0; start < size; start += BLOCK) {
    const end = Math.min(start + BLOCK, size);
    const back = BLOCK * (1 + ((bytes[start + 1] ?? 0) % 64));
    if (start >= back && (bytes[start] ?? 0) < 80) {
      bytes.copy(bytes, start, start - back, start - back + (end - start));
      continue;
    }
    for (let i = start; i < end; i++) bytes[i] = ALPHABET[(bytes[i] ?? 0) & 31] ?? 0;
  }
  return bytes;
}

/** The tree under `work`, generated once and reused while its recipe is unchanged. */
export async function ensureTree(work: string, shape: TreeShape): Promise<string> {
  const root = join(work, shape.name);
  const done = join(work, `${shape.name}.${RECIPE}.done`);
  if (existsSync(done)) return root;
  await rm(root, { recursive: true, force: true });
  process.stdout.write(`generating ${root} (once) ...`);
  const started = performance.now();
  for (let i = 0; i < shape.smallFiles; i++) {
    const directory = join(root, `d${Math.floor(i / 1000)}`, `e${Math.floor(i / 100) % 10}`);
    if (i % 100 === 0) await mkdir(directory, { recursive: true });
    const seed = `${shape.name}/small/${i}`;
    const size = 1024 + (createHash('sha256').update(seed).digest().readUInt32BE(0) % (63 * 1024));
    await writeFile(join(directory, `f${i}.txt`), content(seed, size), {
      mode: i % 17 === 0 ? 0o755 : 0o644,
    });
  }
  await mkdir(join(root, 'large'), { recursive: true });
  for (let i = 0; i < shape.largeFiles; i++) {
    await writeFile(
      join(root, 'large', `blob${i}.bin`),
      content(`${shape.name}/large/${i}`, shape.largeBytes),
    );
  }
  await writeFile(done, '');
  console.log(` ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return root;
}

/** A tree of `count` hardlinked copies of `tree`: more files and bytes at no cost on disk. */
export async function ensureCopies(work: string, tree: string, count: number): Promise<string> {
  const root = join(work, `${basename(tree)}-x${count}`);
  const done = join(work, `${basename(tree)}-x${count}.${RECIPE}.done`);
  if (existsSync(done)) return root;
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  for (let i = 0; i < count; i++) execFileSync('cp', ['-al', tree, join(root, `copy${i}`)]);
  await writeFile(done, '');
  return root;
}
