import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTree, TREES } from './tree.js';

const here = dirname(fileURLToPath(import.meta.url));
const work = join(here, '.work');
const RUNS = 5;

interface OwnRun {
  ms: number;
  maxRssKiB: number;
  digest: string;
  size: number;
  files: number;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`${command} exited with ${code}`)),
    );
  });
}

async function ours(root: string): Promise<OwnRun> {
  const destination = join(work, 'bundle.tar.zst');
  const output = await run(process.execPath, [
    '--import',
    'tsx',
    join(here, 'pack-child.ts'),
    root,
    destination,
    'zstd',
  ]);
  await rm(destination, { force: true });
  return JSON.parse(output) as OwnRun;
}

async function baseline(root: string): Promise<number> {
  const started = performance.now();
  await run('bash', [
    '-c',
    'set -o pipefail; tar --sort=name -cf - -C "$1" . | zstd -3 -T0 | sha256sum >/dev/null',
    'baseline',
    root,
  ]);
  return performance.now() - started;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;

/** `npm run bench -- pack`: our pack + digest against tar | zstd -3 -T0 | sha256sum. */
export async function packBench(): Promise<void> {
  await mkdir(work, { recursive: true });
  const large = await ensureTree(work, TREES.large);
  const small = await ensureTree(work, TREES.small);

  // One untimed pass of each, so both read the tree from the page cache.
  await baseline(large);
  const first = await ours(large);
  console.log(
    `tree ${large}: ${first.files} files; bundle ${(first.size / 2 ** 20).toFixed(0)} MiB, ${first.digest}`,
  );

  const oursMs: number[] = [];
  const baselineMs: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const own = await ours(large);
    if (own.digest !== first.digest) throw new Error('pack is not reproducible across runs');
    oursMs.push(own.ms);
    rss.push(own.maxRssKiB);
    baselineMs.push(await baseline(large));
  }
  const smallRss: number[] = [];
  for (let i = 0; i < RUNS; i++) smallRss.push((await ours(small)).maxRssKiB);

  const ratio = median(oursMs) / median(baselineMs);
  console.log(
    `pack + sha256, ours (median of ${RUNS}):       ${seconds(median(oursMs))}  [${oursMs.map(seconds).join(', ')}]`,
  );
  console.log(
    `tar --sort=name | zstd -3 -T0 | sha256sum:  ${seconds(median(baselineMs))}  [${baselineMs.map(seconds).join(', ')}]`,
  );
  console.log(`ratio ours / baseline: ${ratio.toFixed(2)}x (target <= 1.30x)`);
  console.log(
    `peak RSS of the pack process: ${mib(median(smallRss))} for ~100 MiB, ${mib(median(rss))} for ~1 GiB`,
  );
}
