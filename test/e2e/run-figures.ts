/*
 * Measures run-action itself (its built dist, run as the runner runs it) against the emulator
 * and one real SSH host on this machine:
 *   node_modules/.bin/node scripts/build.mjs --only run-action
 *   node_modules/.bin/node node_modules/.bin/tsx test/e2e/run-figures.ts
 * - deploy of a ~100 MB bundle (download, verify, upload over SSH, unpack, switch, health check);
 * - `release-id: previous` onto a release still on the host, with 1 MB and 1 GB bundles.
 * The bundles hold random bytes, so their compressed size is their content's size.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { startGitHub } from '../emulator/index.js';
import { runAction, type ActionRun } from '../helpers/action.js';
import {
  appTree,
  makeKeys,
  pack,
  publishRelease,
  type PublishedRelease,
} from '../helpers/releases.js';
import { freePort } from '../hosts/fixtures.js';
import { endProcessesUnder, startHost } from '../hosts/sshd.js';

const MB = 1024 * 1024;
const github = await startGitHub();
const host = await startHost();
const keys = await makeKeys();
const repository = 'acme/figures';
github.createRepository(repository);

async function bundleOf(bytes: number, sha: string) {
  const files: Record<string, Buffer> = {};
  for (let at = 0, n = 0; at < bytes; at += 8 * MB, n++) {
    files[`data/${String(n).padStart(4, '0')}.bin`] = randomBytes(Math.min(8 * MB, bytes - at));
  }
  const dir = await appTree(files);
  const bundle = await pack(dir, 'shop', sha);
  await rm(dir, { recursive: true, force: true });
  return bundle;
}

function hostCells(run: ActionRun): { seconds: number; sent: string } {
  const row = run.summary.split('\n').find((line) => line.startsWith(`| \`${host.hostLine}\``));
  const cells = row?.split('|').map((cell) => cell.trim()) ?? [];
  return { seconds: Number.parseFloat(cells[5] ?? 'NaN'), sent: cells[6] ?? '?' };
}

async function step(
  what: string,
  environment: string,
  port: number,
  inputs: Record<string, string | undefined>,
): Promise<void> {
  const started = performance.now();
  const run = await runAction({
    action: 'run-action',
    env: github.runnerEnv({ repository }),
    timeoutMs: 900_000,
    inputs: {
      environment,
      app: 'shop',
      hosts: host.hostLine,
      path: path.join(host.root, environment),
      'ssh-key': host.privateKey,
      'known-hosts': host.knownHosts,
      'allowed-signers': keys.allowedSigners,
      identity: keys.identity,
      restart: 'bin/restart',
      'health-check': 'bin/health',
      'shared-paths': 'run\nlog',
      keep: '10',
      ...inputs,
    },
  });
  const wall = (performance.now() - started) / 1000;
  if (run.code !== 0) throw new Error(`${what}: ${run.errors.join('; ')}\n${run.log}`);
  const { seconds, sent } = hostCells(run);
  console.log(
    `${what.padEnd(48)} step ${wall.toFixed(2)} s   on the host ${seconds.toFixed(2)} s   sent ${sent}   (port ${port})`,
  );
}

async function releaseOf(
  environment: string,
  id: string,
  sha: string,
  bundle: Awaited<ReturnType<typeof bundleOf>>,
  port: number,
  previous?: PublishedRelease,
): Promise<PublishedRelease> {
  return publishRelease(github, {
    repository,
    app: 'shop',
    environment,
    id,
    sha,
    bundle,
    keys,
    vars: { PORT: String(port), GREETING: `hello from ${id}`, NODE: process.execPath },
    secrets: { API_TOKEN: 'figures' },
    ...(previous ? { previous } : {}),
  });
}

try {
  const sha = (c: string) => c.repeat(40);

  const port = await freePort();
  const hundred = await bundleOf(100 * MB, sha('1'));
  await releaseOf('deploy', 'v1', sha('1'), hundred, port);
  console.log(`bundle of ${(hundred.size / MB).toFixed(1)} MiB compressed`);
  await step('deploy ~100 MB, first to the host', 'deploy', port, {});
  await step('same release again (already on the host)', 'deploy', port, { 'release-id': 'v1' });
  await endProcessesUnder(path.join(host.root, 'deploy'));

  const rollPort = await freePort();
  const small = await bundleOf(1 * MB, sha('2'));
  const large = await bundleOf(1024 * MB, sha('3'));
  const r1 = await releaseOf('rollback', 'v1', sha('2'), small, rollPort);
  const r2 = await releaseOf('rollback', 'v2', sha('3'), large, rollPort, r1);
  await releaseOf('rollback', 'v3', sha('2'), small, rollPort, r2);
  const quiet = { deployment: 'false' };
  await step('deploy v1 (1 MB)', 'rollback', rollPort, { ...quiet, 'release-id': 'v1' });
  await step('deploy v2 (1 GB)', 'rollback', rollPort, { ...quiet, 'release-id': 'v2' });
  await step('deploy v3 (1 MB)', 'rollback', rollPort, { ...quiet, 'release-id': 'v3' });
  await step('previous: v3 -> v2 (1 GB), restart + check', 'rollback', rollPort, {
    ...quiet,
    'release-id': 'previous',
  });
  await step('previous: v2 -> v1 (1 MB), restart + check', 'rollback', rollPort, {
    ...quiet,
    'release-id': 'previous',
  });
  const switchOnly = { ...quiet, restart: undefined, 'health-check': undefined };
  await step('deploy v2 again (1 GB, on the host)', 'rollback', rollPort, {
    ...switchOnly,
    'release-id': 'v2',
  });
  await step('deploy v3 again (1 MB, on the host)', 'rollback', rollPort, {
    ...switchOnly,
    'release-id': 'v3',
  });
  await step('previous: v3 -> v2 (1 GB), switch only', 'rollback', rollPort, {
    ...switchOnly,
    'release-id': 'previous',
  });
  await step('previous: v2 -> v1 (1 MB), switch only', 'rollback', rollPort, {
    ...switchOnly,
    'release-id': 'previous',
  });
  await step('v1 -> v3 (1 MB), switch only, GitHub Deployment recorded', 'rollback', rollPort, {
    restart: undefined,
    'health-check': undefined,
    'release-id': 'v3',
  });
} finally {
  await endProcessesUnder(host.root);
  await host.stop();
  await github.stop();
}
