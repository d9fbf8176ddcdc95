// `npm run bench -- stream [--large | --one-file <MiB>] [--rounds 3]`: the runner's own work for
// a first deploy, without a host: verifying the deploy bench's bundle while keeping its content
// (what run-action does before any host is touched), then making the full, zstd-compressed
// stream a host without a release would read. Wall time, the main thread's CPU time and every
// thread's, per round, and the peak RSS. `--one-file` packs a tree of one random file of that
// size instead: the peak RSS for two sizes shows whether memory grows with the bytes.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fullPlan } from '../shared/host/delta-plan.js';
import { payloadOf } from '../test/helpers/payload.js';
import { pack, type PackedBundle } from '../test/helpers/releases.js';
import { ensureAppTrees } from './app-tree.js';
import { APP, packVersions } from './deploy-steps.js';
import { mib } from './deploy.js';
import { peakRssKiB } from './peak-rss.mjs';

const work = join(import.meta.dirname, '.work');

interface Clock {
  wall: number;
  main: number;
  all: number;
}

function now(): Clock {
  const all = process.cpuUsage();
  const main = process.threadCpuUsage();
  return {
    wall: performance.now(),
    main: (main.user + main.system) / 1000,
    all: (all.user + all.system) / 1000,
  };
}

function since(start: Clock): string {
  const end = now();
  const ms = (value: number) => `${value.toFixed(0)} ms`.padStart(8);
  return `wall ${ms(end.wall - start.wall)}, main thread ${ms(end.main - start.main)}, all threads ${ms(end.all - start.all)}`;
}

/** The deploy bench's app packed, or one random file of `--one-file` MiB. */
async function packed(args: string[]): Promise<PackedBundle> {
  const at = args.indexOf('--one-file');
  if (at >= 0) {
    const size = Number(args[at + 1]);
    const dir = await mkdtemp(join(tmpdir(), 'brr-bench-one-file-'));
    execFileSync('sh', ['-c', `head -c "$1" /dev/urandom > "$2/big.bin"`, 'sh', `${size}M`, dir]);
    console.log(`tree: one file of ${size} MiB`);
    try {
      return await pack(dir, APP, '1'.repeat(40));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const trees = await ensureAppTrees(work, args.includes('--large') ? 7 : 1);
  console.log(`tree: ${mib(trees.bytes)} in ${trees.files} files`);
  const [bundle] = await packVersions(trees);
  if (!bundle) throw new Error('no bundle was packed');
  return bundle;
}

export async function streamBench(args: string[]): Promise<void> {
  const at = args.indexOf('--rounds');
  const rounds = at >= 0 ? Number(args[at + 1]) : 3;
  const bundle = await packed(args);
  console.log(`bundle ${mib(bundle.size)}`);
  for (let round = 1; round <= rounds; round++) {
    const verifying = now();
    const payload = await payloadOf(bundle.file);
    const verified = since(verifying);
    const streaming = now();
    const read = payload.read({
      into: 'v1.tmp',
      wire: 'zstd',
      update: fullPlan(payload.index).update,
    });
    let bytes = 0;
    for await (const chunk of read.chunks) bytes += chunk.length;
    console.log(`round ${round}:`);
    console.log(`  verify and keep:        ${verified}`);
    console.log(`  full stream (${mib(bytes)}): ${since(streaming)}`);
  }
  console.log(`peak RSS: ${mib(peakRssKiB() * 1024)}`);
}
