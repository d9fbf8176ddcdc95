// `npm run bench -- ledger`: what one release and one `latest` cost as an environment's ledger
// grows (10, 100, 1,000, 5,000 releases, seeded straight into the local GitHub emulator): wall
// time and REST requests, with ratios against the 10-release ledger of the same run. A ledger
// read through its tags in one request costs about the same at any length.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gitHubClient } from '../shared/github.js';
import { latestRelease } from '../shared/ledger.js';
import { silentLog } from '../shared/log.js';
import { startGitHub, type GitHubEmulator } from '../test/emulator/index.js';
import { runAction } from '../test/helpers/action.js';
import {
  appTree,
  makeKeys,
  pack,
  publishRelease,
  type ReleaseKeys,
} from '../test/helpers/releases.js';

const SIZES = [10, 100, 1000, 5000];
const RUNS = 3;
const SHA = 'a'.repeat(40);

interface Figure {
  ms: number;
  requests: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** A repository whose production ledger holds `size` releases, the newest made as release-action makes it. */
async function seeded(github: GitHubEmulator, size: number, keys: ReleaseKeys): Promise<string> {
  const repository = `acme/ledger-${size}`;
  github.createRepository(repository);
  github.seedReleases(repository, { app: 'shop', environment: 'production', count: size - 1 });
  await publishRelease(github, {
    repository,
    app: 'shop',
    environment: 'production',
    id: `v${size}`,
    sha: SHA,
    bundle: await pack(await appTree(), 'shop', SHA),
    keys,
  });
  return repository;
}

async function step(
  github: GitHubEmulator,
  repository: string,
  options: {
    action: 'build-action' | 'release-action';
    runId: number;
    inputs: Record<string, string>;
    home: string;
    workspace?: string;
  },
): Promise<Figure> {
  const token = `ghs_${randomBytes(18).toString('hex')}`;
  const started = performance.now();
  const run = await runAction({
    action: options.action,
    inputs: options.inputs,
    ...(options.workspace ? { workspace: options.workspace } : {}),
    env: {
      ...github.runnerEnv({ repository, runId: options.runId, sha: SHA, token }),
      SOURCE_DATE_EPOCH: '1700000000',
      HOME: options.home,
    },
    event: { repository: { default_branch: 'main' } },
  });
  const ms = performance.now() - started;
  if (run.code !== 0) throw new Error(`${options.action} failed: ${run.errors.join('; ')}`);
  return { ms, requests: github.requestsBy(token).length };
}

async function latest(github: GitHubEmulator, repository: string): Promise<Figure> {
  const token = `ghs_${randomBytes(18).toString('hex')}`;
  const client = gitHubClient({
    token: github.runnerEnv({ repository, token }).GITHUB_TOKEN,
    apiUrl: github.apiUrl,
    log: silentLog,
  });
  const [owner = '', repo = ''] = repository.split('/');
  const started = performance.now();
  const entry = await latestRelease(client, {
    owner,
    repo,
    app: 'shop',
    environment: 'production',
  });
  const ms = performance.now() - started;
  if (!entry) throw new Error(`${repository} has no latest release`);
  return { ms, requests: github.requestsBy(token).length };
}

function row(label: string, figure: Figure, base: Figure | undefined): string {
  const ratio = base ? ` (×${(figure.ms / base.ms).toFixed(2)} of 10)` : '';
  return `${label.padEnd(10)} ${figure.ms.toFixed(0).padStart(6)} ms${ratio.padEnd(16)} ${String(figure.requests).padStart(3)} requests`;
}

export async function ledgerBench(): Promise<void> {
  const github = await startGitHub();
  const home = await mkdtemp(join(tmpdir(), 'brr-bench-ledger-'));
  const keys = await makeKeys();
  const inputs = { app: 'shop', environment: 'production', 'signing-key': keys.signer.privateKey };
  const base: Record<string, Figure> = {};
  try {
    console.log(
      `median of ${RUNS}; release = release-action's whole step (a node process), latest = the ledger read`,
    );
    for (const size of SIZES) {
      const repository = await seeded(github, size, keys);
      const runId = 30_000 + size;
      await step(github, repository, {
        action: 'build-action',
        runId,
        inputs: { app: 'shop', path: '.' },
        home,
        workspace: await appTree(),
      });
      const releases: Figure[] = [];
      const latests: Figure[] = [];
      for (let n = 0; n < RUNS; n++) {
        releases.push(
          await step(github, repository, { action: 'release-action', runId, inputs, home }),
        );
        latests.push(await latest(github, repository));
      }
      const release = {
        ms: median(releases.map((f) => f.ms)),
        requests: median(releases.map((f) => f.requests)),
      };
      const newest = {
        ms: median(latests.map((f) => f.ms)),
        requests: median(latests.map((f) => f.requests)),
      };
      base.release ??= release;
      base.latest ??= newest;
      console.log(`${size} releases`);
      console.log(`  ${row('release', release, size === SIZES[0] ? undefined : base.release)}`);
      console.log(`  ${row('latest', newest, size === SIZES[0] ? undefined : base.latest)}`);
    }
  } finally {
    await github.stop();
    await rm(home, { recursive: true, force: true });
  }
}
