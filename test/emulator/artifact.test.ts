import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GitHubEmulator } from './index.js';
import { useGitHub } from './vitest.js';

/**
 * The real @actions/artifact client, in this process: it reads the runner's variables at call
 * time, except GITHUB_API_URL, which @actions/github reads once on import, so the module is
 * imported after the emulator's URL is in process.env.
 */

type ArtifactModule = typeof import('@actions/artifact');

const emulator = useGitHub();
let github: GitHubEmulator;
let artifacts: InstanceType<ArtifactModule['DefaultArtifactClient']>;
let scratch: string;
const owner = 'acme';
const repo = 'artifacts';

beforeAll(async () => {
  github = emulator();
  github.createRepository(`${owner}/${repo}`);
  scratch = await mkdtemp(path.join(tmpdir(), 'brr-artifact-'));
  process.env.GITHUB_API_URL = github.apiUrl;
  const { DefaultArtifactClient } = await import('@actions/artifact');
  artifacts = new DefaultArtifactClient();
});

/** Makes this process look like a job of a (new, unless given) run of the repository. */
function enterJob(
  runId?: number,
  origin: { attempt?: number; sha?: string; headRepository?: string } = {},
): Record<string, string> {
  const env = github.runnerEnv({ repository: `${owner}/${repo}`, runId, ...origin });
  Object.assign(process.env, env, { GITHUB_WORKSPACE: scratch, RUNNER_TEMP: scratch });
  return env;
}

async function files(root: string, names: Record<string, string>): Promise<string[]> {
  await mkdir(root, { recursive: true });
  const paths: string[] = [];
  for (const [name, text] of Object.entries(names)) {
    const file = path.join(root, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text);
    paths.push(file);
  }
  return paths;
}

async function fresh(name: string): Promise<string> {
  return mkdtemp(path.join(scratch, `${name}-`));
}

describe('@actions/artifact against the emulator', () => {
  it('uploads a zip, lists it and downloads it in the same run', async () => {
    enterJob();
    const root = await fresh('zip');
    const paths = await files(root, { 'a.txt': 'alpha', 'dir/b.txt': 'beta' });
    const uploaded = await artifacts.uploadArtifact('site', paths, root);
    expect(uploaded.id).toBeGreaterThan(0);
    expect(uploaded.size).toBeGreaterThan(0);

    const { artifacts: listed } = await artifacts.listArtifacts();
    expect(listed).toMatchObject([
      { name: 'site', id: uploaded.id, size: uploaded.size, digest: `sha256:${uploaded.digest}` },
    ]);
    const target = await fresh('zip-out');
    const downloaded = await artifacts.downloadArtifact(Number(uploaded.id), {
      path: target,
      expectedHash: `sha256:${uploaded.digest}`,
    });
    expect(downloaded.digestMismatch).toBe(false);
    expect(await readFile(path.join(target, 'a.txt'), 'utf8')).toBe('alpha');
    expect(await readFile(path.join(target, 'dir/b.txt'), 'utf8')).toBe('beta');
  });

  it('uploads one file without a second archive (skipArchive) and downloads it as is', async () => {
    enterJob();
    const root = await fresh('raw');
    const [bundle = ''] = await files(root, { 'shop-abc.tar.zst': 'not really zstd' });
    const uploaded = await artifacts.uploadArtifact('ignored', [bundle], root, {
      skipArchive: true,
    });
    const digest = createHash('sha256').update('not really zstd').digest('hex');
    expect(uploaded.digest).toBe(digest);
    const { artifact } = await artifacts.getArtifact('shop-abc.tar.zst');
    expect(artifact).toMatchObject({ id: uploaded.id, size: 15 });

    const target = await fresh('raw-out');
    await artifacts.downloadArtifact(Number(uploaded.id), { path: target });
    expect(await readdir(target)).toEqual(['shop-abc.tar.zst']);
    expect(await readFile(path.join(target, 'shop-abc.tar.zst'), 'utf8')).toBe('not really zstd');
  });

  it('finds and downloads another run’s artifact through the REST API (findBy)', async () => {
    const first = enterJob();
    const root = await fresh('cross');
    const [bundle = ''] = await files(root, { 'app-1.tar.gz': 'built once' });
    const uploaded = await artifacts.uploadArtifact('x', [bundle], root, { skipArchive: true });

    const second = enterJob();
    expect(second.GITHUB_RUN_ID).not.toBe(first.GITHUB_RUN_ID);
    expect((await artifacts.listArtifacts()).artifacts).toEqual([]);
    const findBy = {
      token: second.GITHUB_TOKEN ?? '',
      workflowRunId: Number(first.GITHUB_RUN_ID),
      repositoryOwner: owner,
      repositoryName: repo,
    };
    const { artifacts: listed } = await artifacts.listArtifacts({ findBy });
    expect(listed.map((a) => a.id)).toEqual([uploaded.id]);
    const { artifact } = await artifacts.getArtifact('app-1.tar.gz', { findBy });
    expect(artifact.digest).toBe(`sha256:${uploaded.digest}`);

    const target = await fresh('cross-out');
    await artifacts.downloadArtifact(Number(uploaded.id), { path: target, findBy });
    expect(await readFile(path.join(target, 'app-1.tar.gz'), 'utf8')).toBe('built once');
    const redirect = github
      .requests()
      .find((r) => r.operation === 'actions/download-artifact' && r.status === 302);
    expect(redirect).toBeDefined();
  });

  it('keeps each attempt’s artifacts its own; REST shows them all with their run’s head', async () => {
    const sha = 'c'.repeat(40);
    const first = enterJob(undefined, { sha });
    const runId = Number(first.GITHUB_RUN_ID);
    const root = await fresh('attempt');
    const [built = ''] = await files(root, { 'build.txt': 'attempt 1' });
    const uploaded = await artifacts.uploadArtifact('build.txt', [built], root, {
      skipArchive: true,
    });

    const second = enterJob(runId, { attempt: 2, sha });
    expect(second.GITHUB_RUN_ATTEMPT).toBe('2');
    expect((await artifacts.listArtifacts()).artifacts).toEqual([]);
    const response = await fetch(
      `${github.apiUrl}/repos/${owner}/${repo}/actions/runs/${runId}/artifacts`,
      {
        headers: { authorization: `Bearer ${second.GITHUB_TOKEN}` },
      },
    );
    const listed = (await response.json()) as {
      artifacts: { id: number; workflow_run: { head_sha: string; head_repository_id: number } }[];
    };
    expect(listed.artifacts).toMatchObject([
      {
        id: uploaded.id,
        workflow_run: {
          id: runId,
          head_sha: sha,
          head_repository_id: Number(first.GITHUB_REPOSITORY_ID),
        },
      },
    ]);
    const { artifacts: mine } = await artifacts.listArtifacts({
      findBy: {
        token: second.GITHUB_TOKEN ?? '',
        workflowRunId: runId,
        repositoryOwner: owner,
        repositoryName: repo,
      },
    });
    expect(mine.map((artifact) => artifact.id)).toEqual([uploaded.id]);
  });

  it('lets a fork’s run upload under any name; REST names the fork as its head repository', async () => {
    const own = enterJob();
    const fork = enterJob(undefined, { headRepository: 'evil/artifacts' });
    expect(fork.GITHUB_REPOSITORY).toBe(`${owner}/${repo}`);
    const root = await fresh('fork');
    const [forged = ''] = await files(root, { 'shop-any.tar.zst': 'from a fork' });
    const uploaded = await artifacts.uploadArtifact('shop-any.tar.zst', [forged], root, {
      skipArchive: true,
    });
    const response = await fetch(
      `${github.apiUrl}/repos/${owner}/${repo}/actions/artifacts?name=shop-any.tar.zst`,
      { headers: { authorization: `Bearer ${own.GITHUB_TOKEN}` } },
    );
    const listed = (await response.json()) as {
      artifacts: {
        id: number;
        workflow_run: { repository_id: number; head_repository_id: number };
      }[];
    };
    const [found] = listed.artifacts;
    expect(found?.id).toBe(uploaded.id);
    expect(found?.workflow_run.head_repository_id).not.toBe(found?.workflow_run.repository_id);
    expect(github.state.repositories()).toContain('evil/artifacts');
  });

  it('refuses a second artifact of the same name in a run, and deletes', async () => {
    enterJob();
    const root = await fresh('twice');
    const paths = await files(root, { 'x.txt': 'x' });
    await artifacts.uploadArtifact('twice', paths, root);
    await expect(artifacts.uploadArtifact('twice', paths, root)).rejects.toThrow(
      /\(409\) Conflict: an artifact with the name twice already exists/,
    );
    const { id } = await artifacts.deleteArtifact('twice');
    expect(github.state.repository(`${owner}/${repo}`).artifacts.map((a) => a.id)).not.toContain(
      id,
    );
  });

  it('refuses a runtime token the emulator did not sign', async () => {
    const env = enterJob();
    const [header, payload] = (env.ACTIONS_RUNTIME_TOKEN ?? '').split('.');
    process.env.ACTIONS_RUNTIME_TOKEN = `${header}.${payload}.forged`;
    const root = await fresh('forged');
    const paths = await files(root, { 'x.txt': 'x' });
    await expect(artifacts.uploadArtifact('forged', paths, root)).rejects.toThrow(
      /\(401\) Unauthorized: the runtime token signature is invalid/,
    );
  });

  it('survives a 503 from the results service and from blob storage (client retries)', async () => {
    enterJob();
    const create = github.faults.inject('ArtifactService/CreateArtifact', {
      kind: 'status',
      status: 503,
    });
    const blob = github.faults.inject('blob', { kind: 'status', status: 503 });
    const root = await fresh('retry');
    const paths = await files(root, { 'x.txt': 'retried' });
    const uploaded = await artifacts.uploadArtifact('retried', paths, root);
    expect(uploaded.id).toBeGreaterThan(0);
    expect([create.hits, blob.hits]).toEqual([1, 1]);
  }, 60_000);
});
