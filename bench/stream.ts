// `npm run bench -- stream [--large] [--rounds 3]`: the runner's own work for a first deploy,
// without a host: verifying the deploy bench's bundle while keeping its content (what run-action
// does before any host is touched), then making the full, zstd-compressed stream a host without
// a release would read. Wall time, the main thread's CPU time and every thread's, per round.
import { join } from 'node:path';
import { fullPlan } from '../shared/host/delta-plan.js';
import { payloadOf } from '../test/helpers/payload.js';
import { ensureAppTrees } from './app-tree.js';
import { packVersions } from './deploy-steps.js';
import { mib } from './deploy.js';

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

export async function streamBench(args: string[]): Promise<void> {
  const at = args.indexOf('--rounds');
  const rounds = at >= 0 ? Number(args[at + 1]) : 3;
  const trees = await ensureAppTrees(work, args.includes('--large') ? 7 : 1);
  const [bundle] = await packVersions(trees);
  if (!bundle) throw new Error('no bundle was packed');
  console.log(`tree: ${mib(trees.bytes)} in ${trees.files} files; bundle ${mib(bundle.size)}`);
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
  console.log(`peak RSS: ${mib(process.resourceUsage().maxRSS * 1024)}`);
}
