import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCopies, ensureTree, TREES } from './tree.js';

const here = dirname(fileURLToPath(import.meta.url));
const work = join(here, '.work');
const RUNS = 5;

interface Timing {
  ms: number;
  /** CPU time, user + system, of every thread and child: fairer than wall time on a busy box. */
  cpuMs: number;
}

interface OwnRun extends Timing {
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

async function baseline(root: string): Promise<Timing> {
  const started = performance.now();
  // `times` prints the CPU time of the shell, then of its children: the pipeline.
  const output = await run('bash', [
    '-c',
    'set -o pipefail; tar --sort=name -cf - -C "$1" . | zstd -3 -T0 | sha256sum >/dev/null; times',
    'baseline',
    root,
  ]);
  const ms = performance.now() - started;
  const children = output.trim().split('\n').at(-1) ?? '';
  const cpuMs = [...children.matchAll(/(\d+)m([\d.]+)s/g)]
    .map(([, minutes, secs]) => (Number(minutes) * 60 + Number(secs)) * 1000)
    .reduce((sum, value) => sum + value, 0);
  return { ms, cpuMs };
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
  const triple = await ensureCopies(work, large, 3);

  // One untimed pass of each, so both read the tree from the page cache.
  await baseline(large);
  const first = await ours(large);
  const bundleMiB = (first.size / 2 ** 20).toFixed(0);
  console.log(`tree ${large}: ${first.files} files, bundle ${bundleMiB} MiB, ${first.digest}`);

  const oursMs: number[] = [];
  const oursCpu: number[] = [];
  const baselineMs: number[] = [];
  const baselineCpu: number[] = [];
  const largeRss: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const own = await ours(large);
    if (own.digest !== first.digest) throw new Error('pack is not reproducible across runs');
    oursMs.push(own.ms);
    oursCpu.push(own.cpuMs);
    largeRss.push(own.maxRssKiB);
    const theirs = await baseline(large);
    baselineMs.push(theirs.ms);
    baselineCpu.push(theirs.cpuMs);
  }
  const smallRss: number[] = [];
  for (let i = 0; i < RUNS; i++) smallRss.push((await ours(small)).maxRssKiB);
  const tripleRun = await ours(triple);

  const runs = (values: number[]) =>
    `${seconds(median(values))}  [${values.map(seconds).join(', ')}]`;
  const ratio = (a: number[], b: number[]) => (median(a) / median(b)).toFixed(2);
  console.log(`wall time, median of ${RUNS} runs taken in turn:`);
  console.log(`  ours: pack + sha256, written to a file  ${runs(oursMs)}`);
  console.log(`  tar --sort=name | zstd -3 -T0 | sha256sum  ${runs(baselineMs)}`);
  console.log(`  ratio ours / baseline: ${ratio(oursMs, baselineMs)}x (target <= 1.30x)`);
  console.log(`CPU time (user + system), median:`);
  console.log(`  ours ${seconds(median(oursCpu))}, baseline ${seconds(median(baselineCpu))}`);
  console.log(`  ratio ours / baseline: ${ratio(oursCpu, baselineCpu)}x`);
  console.log('peak RSS of the pack process (medians):');
  console.log(
    `  ~100 MiB, ${TREES.small.smallFiles + TREES.small.largeFiles} files: ${mib(median(smallRss))}`,
  );
  console.log(`  ~1 GiB, ${first.files} files: ${mib(median(largeRss))}`);
  console.log(
    `  ~3 GiB, ${tripleRun.files} files (three hardlinked copies): ${mib(tripleRun.maxRssKiB)}`,
  );
}
