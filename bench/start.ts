// `npm run bench -- start`: how long each action's dist takes from process start to exit on a run
// that stops at once (a required input missing), against `node -e 0` in the same run. What a
// step costs before it does any work: loading and evaluating the bundle.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../test/helpers/action.js';

const ACTIONS = ['.', 'build-action', 'release-action', 'run-action'] as const;
const ROUNDS = 9;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Wall time of one process, start to exit, in milliseconds. */
function timed(args: string[], env: NodeJS.ProcessEnv): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (args[0] !== '-e' && !String(result.stdout).includes('::error::')) {
    throw new Error(`${args[0]} did not fail on the missing input: ${String(result.stdout)}`);
  }
  return ms;
}

/** What a step loads at start (dist/index.js) and what it may load later (the chunks). */
function distSizes(action: string): string {
  const dist = join(ROOT, action, 'dist');
  const kib = (file: string) => statSync(join(dist, file)).size / 1024;
  const chunks = readdirSync(dist).filter((file) => /^\d+\.index\.js$/.test(file));
  const later = chunks.reduce((sum, file) => sum + kib(file), 0);
  return `dist/index.js ${kib('index.js').toFixed(0)} KiB, ${chunks.length} chunks ${later.toFixed(0)} KiB`;
}

export function startBench(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'brr-bench-start-'));
  try {
    const output = join(scratch, 'output');
    writeFileSync(output, '');
    // No INPUT_* at all: every action has a required input, so each stops at parsing.
    const env = { PATH: process.env.PATH, GITHUB_OUTPUT: output, RUNNER_TEMP: scratch };
    const samples = new Map<string, number[]>([['node -e 0', []]]);
    for (const action of ACTIONS) samples.set(action, []);
    // Interleaved, so a burst of load on the machine hits every candidate alike.
    for (let round = 0; round < ROUNDS; round++) {
      samples.get('node -e 0')?.push(timed(['-e', '0'], env));
      for (const action of ACTIONS) {
        samples.get(action)?.push(timed([join(ROOT, action, 'dist', 'index.js')], env));
      }
    }
    const baseline = median(samples.get('node -e 0') ?? []);
    console.log(`node ${process.version}, medians of ${ROUNDS} runs`);
    console.log(`node -e 0: ${baseline.toFixed(0)} ms`);
    for (const action of ACTIONS) {
      const ms = median(samples.get(action) ?? []);
      const name = action === '.' ? 'ship (.)' : action;
      console.log(
        `${name}: ${ms.toFixed(0)} ms, ${(ms - baseline).toFixed(0)} ms over node; ${distSizes(action)}`,
      );
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return Promise.resolve();
}
