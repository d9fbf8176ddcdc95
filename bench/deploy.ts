// `npm run bench -- deploy [--large] [--hosts 8] [--runs 3]`: run-action's built dist deploying a realistic
// app (real npm packages, ~150 MiB and >10,000 files; seven times that with --large) to test
// sshd hosts, v1 then v2 with one file changed, against OpenSSH and rsync on the same tree and
// hosts in the same run. Build run-action's dist first: `npm run bundle`. The hosts' roots are
// under the temporary directory: `TMPDIR=/dev/shm npm run bench -- deploy` puts them on a tmpfs,
// which takes a shared machine's disk (whose write speed can change fivefold from one minute to
// the next) out of the figures and leaves what the CPU does.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGitHub, type GitHubEmulator } from '../test/emulator/index.js';
import { makeKeys, type PackedBundle, type ReleaseKeys } from '../test/helpers/releases.js';
import { startHost, type TestHost } from '../test/hosts/sshd.js';
import { ensureAppTrees, type AppTrees } from './app-tree.js';
import {
  deployStep,
  diskKiB,
  packVersions,
  publishVersions,
  REPOSITORY,
  type StepFigures,
} from './deploy-steps.js';
import { bash, onWire, proxied, settle, type Measured, type ProxiedHost } from './wire.js';

const work = join(import.meta.dirname, '.work');
const MiB = 2 ** 20;
export const mib = (bytes: number) => `${(bytes / MiB).toFixed(bytes < 10 * MiB ? 2 : 1)} MiB`;
export const secs = (seconds: number) => `${seconds.toFixed(2)} s`;
export const times = (ratio: number) => `${ratio.toFixed(2)}x`;

export interface World {
  github: GitHubEmulator;
  keys: ReleaseKeys;
  trees: AppTrees;
  hosts: TestHost[];
  targets: ProxiedHost[];
}

export async function setUp(copies: number, hostCount: number): Promise<World> {
  const trees = await ensureAppTrees(work, copies);
  const github = await startGitHub();
  github.createRepository(REPOSITORY);
  const keys = await makeKeys();
  const hosts = await Promise.all(
    Array.from({ length: hostCount }, () => startHost({ ownWorkingDirectory: true })),
  );
  // One `ssh-key` input for the whole fleet, as a team would have.
  const first = hosts[0] as TestHost;
  const clientKey = await readFile(join(first.dir, 'client_key.pub'), 'utf8');
  for (const host of hosts.slice(1)) {
    await writeFile(join(host.dir, 'authorized_keys'), clientKey, { flag: 'a' });
    host.privateKey = first.privateKey;
  }
  const targets = await Promise.all(hosts.map(proxied));
  return { github, keys, trees, hosts, targets };
}

export async function tearDown(world: World): Promise<void> {
  for (const target of world.targets) await target.proxy.close();
  for (const host of world.hosts) await host.stop();
  await world.github.stop();
}

export function row(
  label: string,
  figures: { host?: number; step?: number; up: number; down: number },
) {
  const host = figures.host === undefined ? '' : secs(figures.host);
  const step = figures.step === undefined ? '' : secs(figures.step);
  console.log(
    `  ${label.padEnd(44)} ${host.padStart(9)} ${step.padStart(9)} ${mib(figures.up).padStart(11)} ${mib(figures.down).padStart(10)}`,
  );
}

export function header(): void {
  console.log(
    `  ${''.padEnd(44)} ${'host'.padStart(9)} ${'step'.padStart(9)} ${'sent'.padStart(11)} ${'received'.padStart(10)}`,
  );
}

function ours(label: string, figures: StepFigures): void {
  row(label, { host: Math.max(...figures.hostSeconds), step: figures.stepSeconds, ...figures });
}

export function theirs(label: string, figures: Measured): void {
  row(label, { host: figures.seconds, ...figures });
}

/** OpenSSH's pipelines for a first deploy, on one host, in directories of their own under `dir`. */
async function firstBaselines(target: ProxiedHost, trees: AppTrees, dir: string) {
  const ssh = [...target.ssh, target.login];
  const plain = await onWire(target, () =>
    bash(`tar -cf - -C "$1" . | "\${@:3}" "mkdir -p $2/plain && tar -xf - -C $2/plain"`, [
      trees.v1,
      dir,
      ...ssh,
    ]),
  );
  const zstd = await onWire(target, () => bash(ZSTD_PIPELINE, [trees.v1, dir, ...ssh]));
  return { plain, zstd };
}

/** OpenSSH's pipeline with zstd: `$1` the tree, into `$2/v1` on the host; `$3…` ssh and login. */
const ZSTD_PIPELINE = `tar -cf - -C "$1" . | zstd -q -T0 | "\${@:3}" "mkdir -p $2/v1 && zstd -q -d | tar -xf - -C $2/v1"`;

/** OpenSSH's zstd pipeline to every target at once, in `dir` on each: seconds until all are done. */
async function opensshToAll(targets: ProxiedHost[], tree: string, dir: string): Promise<number> {
  settle();
  const started = performance.now();
  await Promise.all(
    targets.map((target) => bash(ZSTD_PIPELINE, [tree, dir, ...target.ssh, target.login])),
  );
  return (performance.now() - started) / 1000;
}

/** rsync for the one file changed, after firstBaselines: into a new directory and in place. */
async function secondBaselines(target: ProxiedHost, trees: AppTrees, dir: string) {
  const rsyncShell = target.ssh.join(' ');
  const linkDest = await onWire(target, () =>
    bash(`rsync -a --link-dest=../v1 -e "$1" "$2/" "$3:$4/v2/"`, [
      rsyncShell,
      trees.v2,
      target.login,
      dir,
    ]),
  );
  const local = join(target.host.root, dir);
  const [, linkDestKiB = 0] = diskKiB([join(local, 'v1'), join(local, 'v2')]);
  const inPlace = await onWire(target, () =>
    bash(`rsync -a -e "$1" "$2/" "$3:$4/v1/"`, [rsyncShell, trees.v2, target.login, dir]),
  );
  return { linkDest, linkDestKiB, inPlace };
}

/** OpenSSH's pipelines and rsync on one host, in directories of their own under `dir`. */
export async function baselines(target: ProxiedHost, trees: AppTrees, dir: string) {
  return {
    ...(await firstBaselines(target, trees, dir)),
    ...(await secondBaselines(target, trees, dir)),
  };
}

type Baselines = Awaited<ReturnType<typeof baselines>>;

interface Run {
  v1: StepFigures;
  v2: StepFigures;
  v1KiB: number;
  v2KiB: number;
  base: Baselines;
}

/** One run of everything, in directories of its own; removed afterwards. */
async function oneRun(world: World, index: number, bundles: PackedBundle[]): Promise<Run> {
  const target = world.targets[0] as ProxiedHost;
  const environment = `run-${index}`;
  await publishVersions(world.github, world.keys, environment, bundles);
  const step = { ...world, targets: [target], environment, path: environment };
  // Each of ours right before its baseline: the machine's load changes by the minute.
  const v1 = await deployStep({ ...step, releaseId: 'v1' });
  const first = await firstBaselines(target, world.trees, `openssh-${index}`);
  const v2 = await deployStep({ ...step, releaseId: 'v2' });
  const second = await secondBaselines(target, world.trees, `openssh-${index}`);
  const base = { ...first, ...second };
  const releases = join(target.host.root, environment, 'releases');
  const [v1KiB = 0, v2KiB = 0] = diskKiB([join(releases, 'v1'), join(releases, 'v2')]);
  for (const dir of [environment, `openssh-${index}`]) {
    await rm(join(target.host.root, dir), { recursive: true, force: true });
  }
  return { v1, v2, v1KiB, v2KiB, base };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** The median of each figure over the runs; of a list (seconds per host), of its largest. */
function medianOf<T extends object>(samples: T[]): T {
  const rows = samples as unknown as Record<string, number | number[]>[];
  const out: Record<string, number | number[]> = {};
  for (const key of Object.keys(rows[0] ?? {})) {
    const values = rows.map((sample) => sample[key] ?? 0);
    out[key] = values.some(Array.isArray)
      ? [median(values.map((value) => Math.max(...[value].flat())))]
      : median(values as number[]);
  }
  return out as unknown as T;
}

async function singleHost(world: World, runs: number): Promise<void> {
  const { trees } = world;
  const bundles = await packVersions(trees);
  console.log(
    `tree: ${mib(trees.bytes)} in ${trees.files} files; bundles (zstd): v1 ${mib(bundles[0]?.size ?? 0)}, v2 ${mib(bundles[1]?.size ?? 0)}; medians of ${runs} run(s)`,
  );
  const all: Run[] = [];
  for (let i = 0; i < runs; i++) all.push(await oneRun(world, i, bundles));
  const v1 = medianOf(all.map((run) => run.v1));
  const v2 = medianOf(all.map((run) => run.v2));
  const base = {
    plain: medianOf(all.map((run) => run.base.plain)),
    zstd: medianOf(all.map((run) => run.base.zstd)),
    inPlace: medianOf(all.map((run) => run.base.inPlace)),
    linkDest: medianOf(all.map((run) => run.base.linkDest)),
    linkDestKiB: median(all.map((run) => run.base.linkDestKiB)),
  };
  const v1KiB = median(all.map((run) => run.v1KiB));
  const v2KiB = median(all.map((run) => run.v2KiB));
  const spread = (values: number[]) => `[${values.map((value) => value.toFixed(2)).join(', ')}]`;

  console.log('first deploy (v1):');
  header();
  ours('run-action', v1);
  theirs('tar | ssh | tar -x (OpenSSH, plain)', base.plain);
  theirs('tar | zstd -T0 | ssh | zstd -d | tar -x', base.zstd);
  console.log('one file changed (v2):');
  header();
  ours('run-action', v2);
  theirs('rsync -a (into v1, in place)', base.inPlace);
  theirs('rsync -a --link-dest=../v1 (a new directory)', base.linkDest);
  if (runs > 1) {
    const paired = (ratio: (run: Run) => number) =>
      `${times(median(all.map(ratio)))} ${spread(all.map(ratio))}`;
    console.log('each run, its own against the baseline right after it (median, then each):');
    console.log(
      `  first deploy / OpenSSH zstd: ${paired((run) => Math.max(...run.v1.hostSeconds) / run.base.zstd.seconds)}`,
    );
    console.log(
      `  one file / (2 x rsync + 1 s): ${paired((run) => Math.max(...run.v2.hostSeconds) / (2 * run.base.inPlace.seconds + 1))}`,
    );
    console.log('each run, time on the host (s):');
    console.log(`  run-action v1 ${spread(all.map((run) => Math.max(...run.v1.hostSeconds)))}`);
    console.log(`  OpenSSH zstd  ${spread(all.map((run) => run.base.zstd.seconds))}`);
    console.log(`  run-action v2 ${spread(all.map((run) => Math.max(...run.v2.hostSeconds)))}`);
    console.log(`  rsync -a      ${spread(all.map((run) => run.base.inPlace.seconds))}`);
  }
  const share = (kib: number) => `${((100 * kib) / v1KiB).toFixed(1)}%`;
  console.log('host disk per release (du, a hard-linked file counted once):');
  console.log(`  a full release (run-action v1): ${mib(v1KiB * 1024)}`);
  console.log(`  run-action v2: ${mib(v2KiB * 1024)} more, ${share(v2KiB)} of a full release`);
  console.log(
    `  rsync --link-dest v2: ${mib(base.linkDestKiB * 1024)} more, ${share(base.linkDestKiB)} (its directories: hard links cannot share them)`,
  );
  console.log(
    `peak RSS of run-action: v1 ${mib(v1.peakRssKiB * 1024)}, v2 ${mib(v2.peakRssKiB * 1024)}`,
  );

  const v1Host = Math.max(...v1.hostSeconds);
  const v2Host = Math.max(...v2.hostSeconds);
  const timeLimit = 2 * base.inPlace.seconds + 1;
  console.log('against the targets (issue 13):');
  console.log(
    `  first deploy, time on the host / OpenSSH zstd pipeline: ${times(v1Host / base.zstd.seconds)} (target <= 1.30x)`,
  );
  console.log(`  first deploy, bytes sent / OpenSSH zstd pipeline: ${times(v1.up / base.zstd.up)}`);
  console.log(
    `  one file, bytes sent / rsync -a: ${times(v2.up / base.inPlace.up)} (target <= 2x); received ${times(v2.down / base.inPlace.down)}`,
  );
  console.log(
    `  one file, time on the host ${secs(v2Host)} against 2 x rsync + 1 s = ${secs(timeLimit)}: ${times(v2Host / timeLimit)} of the limit (target <= 1x)`,
  );
  console.log(`  one file, disk for v2: ${share(v2KiB)} of a full release (target <= 2%)`);
}

/** The same release to one host and to every host at once: what parallel costs. */
async function fleet(world: World): Promise<void> {
  const { github, keys, trees, targets } = world;
  const bundles = await packVersions(trees);
  await publishVersions(github, keys, 'one', bundles);
  await publishVersions(github, keys, 'all', bundles);
  const one = { github, keys, targets: targets.slice(0, 1), environment: 'one', path: 'one' };
  const all = { github, keys, targets, environment: 'all', path: 'all' };
  console.log(`tree: ${mib(trees.bytes)} in ${trees.files} files; ${targets.length} hosts`);
  header();
  const results: [string, StepFigures, StepFigures][] = [];
  for (const releaseId of ['v1', 'v2']) {
    const single = await deployStep({ ...one, releaseId });
    const many = await deployStep({ ...all, releaseId });
    ours(`${releaseId}, 1 host`, single);
    ours(`${releaseId}, ${targets.length} hosts, parallel ${targets.length}`, many);
    results.push([releaseId, single, many]);
  }
  for (const [releaseId, single, many] of results) {
    console.log(
      `  ${releaseId}: step time ${targets.length} hosts / 1 host: ${times(many.stepSeconds / single.stepSeconds)} (target <= 1.30x); peak RSS ${mib(single.peakRssKiB * 1024)} / ${mib(many.peakRssKiB * 1024)}`,
    );
  }
  // The hosts share this machine's cores: what the same first deploy costs OpenSSH in parallel.
  const alone = await opensshToAll(targets.slice(0, 1), trees.v1, 'openssh-one');
  const together = await opensshToAll(targets, trees.v1, 'openssh-all');
  console.log(
    `  OpenSSH tar | zstd -T0 | ssh, v1: 1 host ${secs(alone)}, ${targets.length} hosts at once ${secs(together)}: ${times(together / alone)}`,
  );
}

function option(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  const value = at >= 0 ? Number(args[at + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new Error('usage: npm run bench -- deploy [--large] [--hosts <count>] [--runs <count>]');
  }
  return value;
}

export async function deployBench(args: string[]): Promise<void> {
  const large = args.includes('--large');
  const hostCount = option(args, '--hosts', 1);
  const runs = option(args, '--runs', 1);
  const world = await setUp(large ? 7 : 1, hostCount);
  const load = () =>
    loadavg()
      .map((value) => value.toFixed(1))
      .join(' ');
  console.log(
    `load average before: ${load()} (2 cores: figures taken on a busy machine are slower)`,
  );
  const filesystem = execFileSync('df', ['--output=fstype', tmpdir()], { encoding: 'utf8' });
  console.log(`hosts' deploy roots under ${tmpdir()}, on ${filesystem.split('\n')[1]?.trim()}`);
  try {
    if (hostCount === 1) await singleHost(world, runs);
    else await fleet(world);
    console.log(`load average after: ${load()}`);
  } finally {
    await tearDown(world);
  }
}
