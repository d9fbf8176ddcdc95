import { execFile, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { shellQuote } from '../../shared/names.js';
import type { GitHubEmulator } from '../emulator/index.js';
import { ROOT, uniqueName } from './action.js';
import {
  appTree,
  emulatorClient,
  makeKeys,
  pack,
  publishRelease,
  type PublishedRelease,
  type ReleaseKeys,
} from './releases.js';

export const SHA_A = 'a'.repeat(40);
export const SHA_B = 'b'.repeat(40);

/** The built CLI, as `node cli/dist/brr.mjs` and package.json's bin run it. */
export const BRR = path.join(ROOT, 'cli', 'dist', 'brr.mjs');

export interface BrrRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface BrrOptions {
  /** Variables besides PATH and HOME; `undefined` removes one. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Run on a pseudo-terminal (util-linux `script`), as a person at a terminal would. */
  tty?: boolean;
}

/** An empty gh configuration directory: `gh auth token` finds no token in it. */
export async function emptyGhConfig(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'brr-gh-'));
}

/**
 * Runs the built brr as a child process, as an operator's shell does. GITHUB_TOKEN and
 * GH_CONFIG_DIR are the test's to give: nothing of the machine's own GitHub login leaks in.
 */
export async function brr(args: readonly string[], options: BrrOptions = {}): Promise<BrrRun> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    GH_CONFIG_DIR: await emptyGhConfig(),
  };
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const command = [process.execPath, BRR, ...args];
  const [file, argv] = options.tty
    ? ['script', ['-qefc', command.map(shellQuote).join(' '), '/dev/null']]
    : [command[0]!, command.slice(1)];
  const child = spawn(file, argv, { cwd: options.cwd ?? tmpdir(), env, stdio: 'pipe' });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout, stderr };
}

/** The variables that point brr at the emulator, with a valid token. */
export function emulatorEnv(github: GitHubEmulator): Record<string, string> {
  return { GITHUB_API_URL: github.apiUrl, GITHUB_TOKEN: github.token };
}

/** A file in a new temporary directory. */
export async function tempFile(name: string, text: string): Promise<string> {
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'brr-file-')), name);
  await writeFile(file, text);
  return file;
}

/** A git work tree whose `origin` is `url`, as an operator's checkout is. */
export async function checkout(url: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'brr-checkout-'));
  const git = promisify(execFile);
  await git('git', ['init', '-q', dir]);
  await git('git', ['-C', dir, 'remote', 'add', 'origin', url]);
  return dir;
}

/**
 * Replaces a published release's asset with other bytes, as someone with write access to a
 * repository without immutable releases can.
 */
export async function replaceAsset(
  github: GitHubEmulator,
  options: { repository: string; tag: string; name: string; bytes: Buffer },
): Promise<void> {
  const [owner = '', repo = ''] = options.repository.split('/');
  const client = emulatorClient(github);
  const { data: release } = await client.rest.repos.getReleaseByTag({
    owner,
    repo,
    tag: options.tag,
  });
  const asset = release.assets.find((candidate) => candidate.name === options.name);
  if (!asset) throw new Error(`${options.tag} has no ${options.name}`);
  await client.rest.repos.deleteReleaseAsset({ owner, repo, asset_id: asset.id });
  await client.request({
    method: 'POST',
    url: release.upload_url,
    name: options.name,
    data: options.bytes,
    headers: { 'content-type': 'application/octet-stream' },
  });
}

/** The secret values the standard ledger holds: no brr output may contain any of them. */
export const SECRET_VALUES = ['hunter2-v1-secret', 'hunter2-v2-secret', 'key-v2-secret'];

export interface StandardLedger {
  repository: string;
  /** The app: the repository's name, so `--app` can be left to its default. */
  app: string;
  environment: string;
  keys: ReleaseKeys;
  /** allowed_signers file naming the signing key. */
  allowedSigners: string;
  releases: PublishedRelease[];
}

/**
 * A ledger of three releases in a new repository, published as release-action publishes them:
 * v1 (first build), v2 (a new build; a var changed, one added; a secret changed, one added),
 * v3 (the same build, one var changed), each chained to the one before.
 */
export async function standardLedger(
  github: GitHubEmulator,
  options: { immutableReleases?: boolean; vars?: Record<string, string> } = {},
): Promise<StandardLedger> {
  const app = uniqueName('shop');
  const repository = `acme/${app}`;
  github.createRepository(repository, { immutableReleases: options.immutableReleases ?? true });
  const keys = await makeKeys();
  const [treeA, treeB] = await Promise.all([appTree(), appTree({ VERSION: '2\n' })]);
  const [bundleA, bundleB] = await Promise.all([pack(treeA, app, SHA_A), pack(treeB, app, SHA_B)]);
  const common = { repository, app, environment: 'production', keys };
  const v1 = await publishRelease(github, {
    ...common,
    id: 'v1',
    sha: SHA_A,
    bundle: bundleA,
    vars: { PORT: '8080', LOG_LEVEL: 'info' },
    secrets: { DB_PASSWORD: 'hunter2-v1-secret' },
  });
  const later = { ...common, sha: SHA_B, bundle: bundleB };
  const v2Secrets = { DB_PASSWORD: 'hunter2-v2-secret', API_KEY: 'key-v2-secret' };
  const v2 = await publishRelease(github, {
    ...later,
    id: 'v2',
    previous: v1,
    vars: { PORT: '9090', LOG_LEVEL: 'info', FEATURE: 'on' },
    secrets: v2Secrets,
  });
  const v3 = await publishRelease(github, {
    ...later,
    id: 'v3',
    previous: v2,
    vars: { PORT: '9090', LOG_LEVEL: 'debug', FEATURE: 'on', ...options.vars },
    secrets: v2Secrets,
  });
  const allowedSigners = await tempFile('allowed_signers', keys.allowedSigners);
  return { ...common, allowedSigners, releases: [v1, v2, v3] };
}
