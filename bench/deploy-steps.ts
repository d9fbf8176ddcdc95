import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { GitHubEmulator } from '../test/emulator/index.js';
import { runAction } from '../test/helpers/action.js';
import {
  pack,
  publishRelease,
  type PackedBundle,
  type PublishedRelease,
  type ReleaseKeys,
} from '../test/helpers/releases.js';
import { settle, type ProxiedHost } from './wire.js';

export const REPOSITORY = 'acme/bench';
export const APP = 'bench';
const PROBE = pathToFileURL(join(import.meta.dirname, 'peak-rss.mjs')).href;

/** The app's two versions packed as build-action packs them: reproducible zstd tars. */
export async function packVersions(trees: { v1: string; v2: string }): Promise<PackedBundle[]> {
  return [await pack(trees.v1, APP, '1'.repeat(40)), await pack(trees.v2, APP, '2'.repeat(40))];
}

/** v1 and v2 of an environment in the emulator's ledger, signed and chained. */
export async function publishVersions(
  github: GitHubEmulator,
  keys: ReleaseKeys,
  environment: string,
  bundles: PackedBundle[],
): Promise<void> {
  let previous: PublishedRelease | undefined;
  for (const [index, bundle] of bundles.entries()) {
    previous = await publishRelease(github, {
      repository: REPOSITORY,
      app: APP,
      environment,
      id: `v${index + 1}`,
      sha: String(index + 1).repeat(40),
      bundle,
      keys,
      vars: { GREETING: `hello from v${index + 1}` },
      ...(previous ? { previous } : {}),
    });
  }
}

export interface StepFigures {
  /** The whole step, as the runner would time it: process start to exit. */
  stepSeconds: number;
  /** Per host, as the step's summary reports it: lock to unlock on that host. */
  hostSeconds: number[];
  /** Bytes through the hosts' proxies: up (runner to host) and down. */
  up: number;
  down: number;
  peakRssKiB: number;
}

/** The seconds of a host's row in the run summary: its time cell, `12.4s` or `12.4s, 21.6 MiB`. */
function hostSeconds(summary: string, hostLine: string): number {
  const row = summary.split('\n').find((line) => line.startsWith(`| \`${hostLine}\``));
  const cell = row
    ?.split('|')
    .map((text) => text.trim())
    .find((text) => /^[0-9]+(\.[0-9]+)?s(,|$)/.test(text));
  if (cell === undefined) throw new Error(`no time for ${hostLine} in the summary:\n${summary}`);
  return Number.parseFloat(cell);
}

/** Runs run-action's built dist, as the runner does, deploying one release to `targets`. */
export async function deployStep(options: {
  github: GitHubEmulator;
  keys: ReleaseKeys;
  targets: ProxiedHost[];
  environment: string;
  releaseId: string;
  path: string;
}): Promise<StepFigures> {
  const { targets } = options;
  const scratch = await mkdtemp(join(tmpdir(), 'brr-bench-rss-'));
  const rssFile = join(scratch, 'rss');
  settle();
  for (const target of targets) target.proxy.reset();
  try {
    const started = performance.now();
    const run = await runAction({
      action: 'run-action',
      env: {
        ...options.github.runnerEnv({ repository: REPOSITORY }),
        NODE_OPTIONS: `--import=${PROBE}`,
        BENCH_PEAK_RSS_FILE: rssFile,
        ...(process.env.BENCH_MEMORY_TRACE
          ? { BENCH_MEMORY_TRACE: process.env.BENCH_MEMORY_TRACE }
          : {}),
      },
      timeoutMs: 30 * 60_000,
      inputs: {
        environment: options.environment,
        app: APP,
        'release-id': options.releaseId,
        hosts: targets.map((t) => t.hostLine).join('\n'),
        path: options.path,
        'ssh-key': targets[0]?.host.privateKey,
        'known-hosts': targets.map((t) => t.knownHosts).join(''),
        'allowed-signers': options.keys.allowedSigners,
        parallel: String(targets.length),
      },
    });
    const stepSeconds = (performance.now() - started) / 1000;
    if (run.code !== 0) throw new Error(`run-action failed: ${run.errors.join('; ')}\n${run.log}`);
    return {
      stepSeconds,
      hostSeconds: targets.map((t) => hostSeconds(run.summary, t.hostLine)),
      up: targets.reduce((sum, t) => sum + t.proxy.up, 0),
      down: targets.reduce((sum, t) => sum + t.proxy.down, 0),
      peakRssKiB: Number(await readFile(rssFile, 'utf8')),
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** KiB on disk of each directory, a hard-linked file counted once, in the first that holds it. */
export function diskKiB(directories: string[]): number[] {
  const output = execFileSync('du', ['-sk', '--', ...directories], { encoding: 'utf8' });
  return output
    .trim()
    .split('\n')
    .map((line) => Number(line.split('\t')[0]));
}
