import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, expect } from 'vitest';
import { parseManifest, type Manifest } from '../../shared/manifest.js';
import type { GitHubEmulator, RepositoryOptions, RepositorySnapshot } from '../emulator/index.js';
import { ageKey, sshKey, type AgeKey, type SshKey } from '../helpers/keys.js';
import {
  ROOT,
  runAction,
  startAction,
  uniqueName,
  type ActionRun,
  type StartedAction,
} from '../helpers/action.js';

/*
 * Builds and releases as a workflow makes them: build-action and release-action run from their
 * dist/ as the runner runs them, against the emulator, one repository (and runner HOME) per test.
 */

export const SHA_A = 'a'.repeat(40);
export const SHA_B = 'b'.repeat(40);

export interface Repo {
  github: GitHubEmulator;
  name: string;
  /** The default branch's head when the repository was made: where release tags point. */
  head: string;
  /** HOME of the repository's runner: build-action's cache paths live under it. */
  home: string;
}

export async function newRepo(
  github: GitHubEmulator,
  prefix = 'shop',
  options?: RepositoryOptions,
): Promise<Repo> {
  const name = `acme/${uniqueName(prefix)}`;
  const { headSha } = github.createRepository(name, options);
  return { github, name, head: headSha, home: await mkdtemp(path.join(tmpdir(), 'brr-home-')) };
}

/** A workspace holding a small app. */
export async function appWorkspace(files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'brr-ws-'));
  const tree = {
    'app/server.js': 'console.log("hello")\n',
    'app/package.json': '{"name":"shop"}\n',
    ...files,
  };
  for (const [name, content] of Object.entries(tree)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

export interface ReleaseSigner {
  readonly signer: SshKey;
  readonly age: AgeKey;
  /** What every release needs: the signing key and the age recipient. */
  inputs(): Record<string, string>;
}

/** A signing key (ssh-keygen) and an age key (age-keygen), made once for the test file. */
export function useReleaseSigner(): ReleaseSigner {
  let made: { signer: SshKey; age: AgeKey } | undefined;
  beforeAll(async () => {
    const [signer, age] = await Promise.all([sshKey(), ageKey()]);
    made = { signer, age };
  });
  const keys = () => {
    if (!made) throw new Error('useReleaseSigner: the keys are made in beforeAll');
    return made;
  };
  return {
    get signer() {
      return keys().signer;
    },
    get age() {
      return keys().age;
    },
    inputs: () => ({ 'signing-key': keys().signer.privateKey, recipients: keys().age.recipient }),
  };
}

/** The writes of a release, in order: tag object, tag, draft, three assets, publish. */
export const RELEASE_WRITES = [
  'git/create-tag',
  'git/create-ref',
  'repos/create-release',
  'repos/upload-release-asset',
  'repos/upload-release-asset',
  'repos/upload-release-asset',
  'repos/update-release',
];

export interface StepOptions {
  sha?: string;
  runId?: number;
  /** GITHUB_RUN_ATTEMPT; default 1. */
  attempt?: number;
  /** GITHUB_REF; default the default branch. */
  ref?: string;
  /** The step's GITHUB_TOKEN, to count the requests it made (`requestsBy`); a new one if not given. */
  token?: string;
  inputs?: Record<string, string | undefined>;
  workspace?: string;
  env?: Record<string, string | undefined>;
}

/** A new token for one step: the emulator accepts it and counts what it asks. */
export function newToken(): string {
  return `ghs_${randomBytes(18).toString('hex')}`;
}

function stepEnv(repo: Repo, options: StepOptions): Record<string, string | undefined> {
  const sha = options.sha ?? SHA_A;
  return {
    ...repo.github.runnerEnv({
      repository: repo.name,
      runId: options.runId,
      sha,
      ...(options.attempt !== undefined ? { attempt: options.attempt } : {}),
      ...(options.ref !== undefined ? { ref: options.ref } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
    }),
    GITHUB_SHA: sha,
    SOURCE_DATE_EPOCH: '1700000000',
    HOME: repo.home,
    ...options.env,
  };
}

/** build-action for `sha` (default SHA_A), app `shop`. */
export async function build(repo: Repo, options: StepOptions = {}): Promise<ActionRun> {
  const run = await runAction({
    action: 'build-action',
    inputs: { app: 'shop', path: 'app', ...options.inputs },
    workspace: options.workspace ?? (await appWorkspace()),
    env: stepEnv(repo, options),
  });
  if (run.code !== 0) throw new Error(`build-action failed: ${run.errors.join(' | ')}`);
  return run;
}

/** The event payload's repository, as every event on GitHub carries it. */
function event(repo: Repo) {
  return { repository: { full_name: repo.name, default_branch: 'main' } };
}

export function startRelease(repo: Repo, options: StepOptions = {}): Promise<StartedAction> {
  return startAction({
    action: 'release-action',
    inputs: { app: 'shop', environment: 'production', ...options.inputs },
    workspace: options.workspace,
    env: stepEnv(repo, options),
    event: event(repo),
  });
}

export interface DeployOptions extends StepOptions {
  environment: string;
  /** The deploy root on this machine (`hosts: local`). */
  root: string;
  allowedSigners: string;
}

/** run-action on the runner itself (`hosts: local`): the simplest deploy there is. */
export function deployLocal(repo: Repo, options: DeployOptions): Promise<ActionRun> {
  return runAction({
    action: 'run-action',
    inputs: {
      app: 'shop',
      environment: options.environment,
      hosts: 'local',
      path: options.root,
      'allowed-signers': options.allowedSigners,
      ...options.inputs,
    },
    env: stepEnv(repo, options),
    event: event(repo),
  });
}

export async function release(repo: Repo, options: StepOptions = {}): Promise<ActionRun> {
  return (await startRelease(repo, options)).result;
}

/** Fetches from the emulator's REST API as the job's token would. */
export async function api(repo: Repo, route: string, accept?: string): Promise<Response> {
  const response = await fetch(`${repo.github.apiUrl}${route}`, {
    headers: {
      authorization: `Bearer ${repo.github.token}`,
      ...(accept ? { accept } : {}),
    },
  });
  if (!response.ok) throw new Error(`GET ${route}: ${response.status} ${await response.text()}`);
  return response;
}

export interface PublishedAssets {
  release: { id: number; name: string; body: string; tag_name: string; html_url: string };
  /** Every asset's bytes, by name. */
  assets: Record<string, Buffer>;
}

/** A published release and every one of its assets, downloaded as run-action downloads them. */
export async function downloadRelease(repo: Repo, tag: string): Promise<PublishedAssets> {
  const found = (await (
    await api(repo, `/repos/${repo.name}/releases/tags/${tag}`)
  ).json()) as PublishedAssets['release'] & { assets: { id: number; name: string }[] };
  const assets: Record<string, Buffer> = {};
  for (const asset of found.assets) {
    const response = await api(
      repo,
      `/repos/${repo.name}/releases/assets/${asset.id}`,
      'application/octet-stream',
    );
    assets[asset.name] = Buffer.from(await response.arrayBuffer());
  }
  return { release: found, assets };
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export interface Released {
  manifest: Manifest;
  bytes: Buffer;
  signature: string;
  body: string;
  name: string;
  assets: Record<string, Buffer>;
}

/** A published release, its release.json read. */
export async function released(repo: Repo, tag: string): Promise<Released> {
  const { release: found, assets } = await downloadRelease(repo, tag);
  const bytes = assets['release.json'];
  if (!bytes) throw new Error(`${tag} has no release.json`);
  return {
    manifest: parseManifest(bytes),
    bytes,
    signature: assets['release.json.sig']?.toString('utf8') ?? '',
    body: found.body,
    name: found.name,
    assets,
  };
}

/** What a refused release must leave: no release (draft or not) and no tag. */
export function expectNothingReleased(snapshot: RepositorySnapshot): void {
  expect(snapshot.releases).toEqual([]);
  expect(snapshot.tags).toEqual({});
}

/**
 * Uploads files as artifacts of a run, with @actions/artifact as build-action does (unarchived),
 * from a child process that has the run's environment.
 */
export async function uploadArtifacts(
  repo: Repo,
  runId: number,
  files: Record<string, Buffer | string>,
  origin: { sha?: string; headRepository?: string } = {},
): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'brr-upload-'));
  for (const [name, content] of Object.entries(files))
    await writeFile(path.join(dir, name), content);
  const script = [
    "import { DefaultArtifactClient } from '@actions/artifact';",
    'const [dir, ...names] = process.argv.slice(1);',
    'const client = new DefaultArtifactClient();',
    'for (const name of names) {',
    '  await client.uploadArtifact(name, [`${dir}/${name}`], dir, { skipArchive: true });',
    '}',
  ].join('\n');
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', script, dir, ...Object.keys(files)],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        ...repo.github.runnerEnv({ repository: repo.name, runId, ...origin }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`artifact upload failed: ${output}`);
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
}

export interface RecordingProxy {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * A pass-through proxy in front of the emulator's REST API that keeps each request's JSON body:
 * for what the emulator does not model (which release GitHub shows as "latest").
 */
export async function recordingProxy(target: string): Promise<RecordingProxy> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((request, response) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      let parsed: unknown;
      try {
        parsed = body.length > 0 ? JSON.parse(body.toString('utf8')) : undefined;
      } catch {
        parsed = undefined;
      }
      requests.push({ method: request.method ?? 'GET', path: request.url ?? '/', body: parsed });
      const headers = new Headers();
      for (const [name, value] of Object.entries(request.headers)) {
        if (['host', 'connection', 'content-length'].includes(name) || value === undefined)
          continue;
        headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      const upstream = await fetch(`${target}${request.url ?? '/'}`, {
        method: request.method,
        headers,
        body: body.length > 0 ? body : undefined,
        redirect: 'manual',
      });
      const answer = Buffer.from(await upstream.arrayBuffer());
      const out: Record<string, string> = {};
      upstream.headers.forEach((value, name) => {
        if (
          !['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(name)
        )
          out[name] = value;
      });
      response.writeHead(upstream.status, out).end(answer);
    })().catch((error: unknown) => {
      response.writeHead(502).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The texts a secret value could show up as: itself, JSON-escaped, and each longer line of it. */
function forms(value: string): string[] {
  const lines = value.split(/\r?\n/).filter((line) => line.trim().length > 3);
  return [...new Set([value, JSON.stringify(value).slice(1, -1), ...lines])];
}

/** Where any of `values` shows up in `places`: "place: name" for each find. */
export function findLeaks(
  values: Record<string, string>,
  places: Record<string, string | Buffer>,
): string[] {
  const found: string[] = [];
  for (const [place, content] of Object.entries(places)) {
    const haystack = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    for (const [name, value] of Object.entries(values)) {
      if (forms(value).some((form) => haystack.includes(Buffer.from(form, 'utf8')))) {
        found.push(`${place}: ${name}`);
      }
    }
  }
  return found;
}

/** The log as the runner shows it: `::add-mask::` commands are consumed, never printed. */
export function shownLog(log: string): string {
  return log
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n');
}

/** The `::add-mask::` line @actions/core writes for a value. */
export function maskCommand(value: string): string {
  const escaped = value.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  return `::add-mask::${escaped}`;
}
