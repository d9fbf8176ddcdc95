import { createHash } from 'node:crypto';
import { mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { factsFileName } from '../../shared/builds.js';
import { parseManifest } from '../../shared/manifest.js';
import { useGitHub } from '../emulator/vitest.js';
import { emulatorClient, makeKeys, type ReleaseKeys } from '../helpers/releases.js';
import {
  RELEASE_WRITES,
  SHA_A,
  SHA_B,
  build,
  deployLocal,
  downloadRelease,
  expectNothingReleased,
  newRepo,
  newToken,
  release,
  uploadArtifacts,
  type Repo,
} from './release-helpers.js';

/*
 * Release and deploy with GitHub's rules on (the emulator refuses what github.com refuses):
 * workflow files the Actions token may not tag, burned tag names, tag rulesets, artifacts that
 * belong to a run attempt or to a fork's run, artifacts and caches that expire. Each test says
 * what the user gets and how many requests each step spent of the token's 1,000 an hour.
 */

const emulator = useGitHub();
let keys: ReleaseKeys;

beforeAll(async () => {
  keys = await makeKeys();
});

let nextRun = 12_000;
const runId = () => nextRun++;

function keyInputs(inputs: Record<string, string> = {}): Record<string, string> {
  return { 'signing-key': keys.signer.privateKey, recipients: keys.recipient, ...inputs };
}

/** The REST operations a step's token made, in order. */
function operations(token: string): (string | undefined)[] {
  return emulator()
    .requestsBy(token)
    .map((request) => request.operation);
}

async function manifestOf(repo: Repo, tag: string) {
  const { release: found, assets } = await downloadRelease(repo, tag);
  return { manifest: parseManifest(assets['release.json'] ?? Buffer.alloc(0)), body: found.body };
}

async function deployRoot(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'brr-deploy-'));
}

const MERGE = 'd'.repeat(40);

/** What a fork's pull request can upload: a bundle and facts that pass every check but trust. */
function forgedBuild(run: number): Record<string, string> {
  const bundle = 'a bundle made by a fork';
  const name = `shop-${SHA_A}.tar.zst`;
  const facts = {
    app: 'shop',
    sha: SHA_A,
    ref: 'refs/pull/3/merge',
    runId: run,
    runAttempt: 1,
    digest: `sha256:${createHash('sha256').update(bundle).digest('hex')}`,
    size: bundle.length,
    files: 1,
    compression: 'zstd',
    created: '2025-01-01T00:00:00Z',
    artifact: { id: 1, name },
  };
  return { [factsFileName('shop', SHA_A)]: JSON.stringify(facts), [name]: bundle };
}

describe.concurrent('workflow files the Actions token may not tag', () => {
  it('(a) a pull request whose merge commit changes a workflow gets its preview, released and deployed', async () => {
    const repo = await newRepo(emulator());
    emulator().setWorkflows(repo.name, MERGE, 'the pull request edits ci.yml');
    const ref = 'refs/pull/7/merge';
    const run = runId();
    await build(repo, { runId: run, sha: MERGE, ref });
    const token = newToken();
    const released = await release(repo, {
      runId: run,
      sha: MERGE,
      ref,
      token,
      inputs: keyInputs({ environment: 'pr-7' }),
    });
    expect(released.errors).toEqual([]);
    expect(released.outputs).toMatchObject({ 'release-id': 'v1', tag: 'shop/pr-7/v1' });
    const state = emulator().state.repository(repo.name);
    expect(state.tagCommits).toEqual({ 'shop/pr-7/v1': repo.head });
    const { manifest, body } = await manifestOf(repo, 'shop/pr-7/v1');
    expect(manifest.build.sha).toBe(MERGE);
    expect(body).toContain(MERGE);
    // The ledger's tags, the default branch's head, then the writes: nothing lists releases.
    expect(operations(token)).toEqual(['git/list-matching-refs', 'git/get-ref', ...RELEASE_WRITES]);

    const root = await deployRoot();
    const deployToken = newToken();
    try {
      const deployed = await deployLocal(repo, {
        runId: run,
        sha: MERGE,
        ref,
        token: deployToken,
        environment: 'pr-7',
        root,
        allowedSigners: keys.allowedSigners,
      });
      expect(deployed.errors).toEqual([]);
      expect(await readlink(path.join(root, 'current'))).toBe('releases/v1');
      const [deployment] = emulator().state.repository(repo.name).deployments;
      expect(deployment).toMatchObject({ environment: 'pr-7', sha: MERGE });
      expect(operations(deployToken).length).toBeLessThanOrEqual(10);
      expect(operations(deployToken)).not.toContain('repos/list-releases');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('(b) main moves on with a workflow change before production releases the older commit', async () => {
    const repo = await newRepo(emulator());
    await build(repo, { runId: runId() });
    const moved = '2'.repeat(40);
    emulator().setWorkflows(repo.name, moved, 'deploy.yml gained a job');
    emulator().setRef(repo.name, 'refs/heads/main', moved);
    const token = newToken();
    const released = await release(repo, { runId: runId(), token, inputs: keyInputs() });
    expect(released.errors).toEqual([]);
    expect(released.outputs['release-id']).toBe('v1');
    expect(emulator().state.repository(repo.name).tagCommits).toEqual({
      'shop/production/v1': moved,
    });
    expect((await manifestOf(repo, 'shop/production/v1')).manifest.build.sha).toBe(SHA_A);
    // The build came from an earlier run through REST: four requests more than (a).
    expect(operations(token)).toHaveLength(13);
  });
});

describe.concurrent('tag names GitHub refuses', () => {
  it('(d) a preview reopened after destroy, immutable releases on, is released and deployed', async () => {
    const repo = await newRepo(emulator());
    const root = await deployRoot();
    const deploy = (run: number, sha: string, inputs: Record<string, string> = {}) =>
      deployLocal(repo, {
        runId: run,
        sha,
        environment: 'pr-9',
        root,
        allowedSigners: keys.allowedSigners,
        inputs,
      });
    try {
      const earlier = [runId(), runId()];
      for (const [n, run] of earlier.entries()) {
        await build(repo, { runId: run });
        const made = await release(repo, {
          runId: run,
          inputs: keyInputs({ environment: 'pr-9', vars: JSON.stringify({ N: String(n) }) }),
        });
        expect(made.errors).toEqual([]);
      }
      expect((await deploy(earlier[1] ?? 0, SHA_A)).errors).toEqual([]);
      const closed = runId();
      const destroyed = await deploy(closed, SHA_A, { destroy: 'true', 'delete-releases': 'true' });
      expect(destroyed.errors).toEqual([]);
      for (const run of [...earlier, closed]) emulator().completeRun(repo.name, run);
      const afterDestroy = emulator().state.repository(repo.name);
      expect(afterDestroy.releases).toEqual([]);
      // The names are burned; the highest tag is kept so numbering goes on after it.
      expect(Object.keys(afterDestroy.tags)).toEqual(['shop/pr-9/v2']);

      const reopened = runId();
      await build(repo, { runId: reopened, sha: SHA_B });
      const token = newToken();
      const again = await release(repo, {
        runId: reopened,
        sha: SHA_B,
        token,
        inputs: keyInputs({ environment: 'pr-9' }),
      });
      expect(again.errors).toEqual([]);
      expect(again.outputs).toMatchObject({ 'release-id': 'v3', 'previous-release-id': '' });
      expect(again.log).toContain(
        'shop/pr-9/v2 has no published release and no running job holds it',
      );
      expect(operations(token)).toHaveLength(12);
      const deployed = await deploy(reopened, SHA_B);
      expect(deployed.errors).toEqual([]);
      expect(await readlink(path.join(root, 'current'))).toBe('releases/v3');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('(e) a ruleset forbids the tag names: one line naming it, nothing left behind', async () => {
    const repo = await newRepo(emulator());
    emulator().addRuleset(repo.name, {
      name: 'release tags by hand',
      include: ['refs/tags/shop/production/*'],
    });
    const run = runId();
    await build(repo, { runId: run });
    const token = newToken();
    const refused = await release(repo, { runId: run, token, inputs: keyInputs() });
    expect(refused.code).toBe(1);
    expect(refused.errors).toEqual([
      'release tag shop/production/v1: GitHub refuses to create it: the tag ruleset "release tags by hand" restricts creating it; got Repository rule violations found Cannot create ref due to creations being restricted.; let release jobs create refs/tags/shop/production/v* (add GitHub Actions to the ruleset\'s bypass list, or exclude those tags) in the repository\'s Settings, Rules, Rulesets',
    ]);
    expectNothingReleased(emulator().state.repository(repo.name));
    expect(operations(token).length).toBeLessThanOrEqual(10);
  });
});

describe.concurrent('tag names GitHub will not give out again', () => {
  it('a name a deleted immutable release used is skipped, with a line saying so', async () => {
    const repo = await newRepo(emulator());
    const [owner = '', name = ''] = repo.name.split('/');
    const octokit = emulatorClient(emulator());
    const { data: gone } = await octokit.rest.repos.createRelease({
      owner,
      repo: name,
      tag_name: 'shop/production/v1',
    });
    await octokit.rest.repos.deleteRelease({ owner, repo: name, release_id: gone.id });
    await octokit.rest.git.deleteRef({ owner, repo: name, ref: 'tags/shop/production/v1' });
    const run = runId();
    await build(repo, { runId: run });
    const token = newToken();
    const released = await release(repo, { runId: run, token, inputs: keyInputs() });
    expect(released.errors).toEqual([]);
    expect(released.outputs).toMatchObject({ 'release-id': 'v2', 'previous-release-id': '' });
    expect(released.log).toContain(
      'shop/production/v1 was used by a deleted immutable release and cannot be reused; skipping it',
    );
    // The refusal is read from the ref and the rulesets, then the next number is taken.
    expect(operations(token)).toHaveLength(13);
  });
});

describe.concurrent('builds release-action can trust', () => {
  it('(g) attempt 2 of a run finds attempt 1’s build with the cache empty', async () => {
    const repo = await newRepo(emulator());
    const run = runId();
    const built = await build(repo, { runId: run });
    emulator().evictCaches(repo.name);
    const token = newToken();
    const released = await release(repo, { runId: run, attempt: 2, token, inputs: keyInputs() });
    expect(released.errors).toEqual([]);
    expect(released.log).toContain(
      `Found the build of ${SHA_A} in run ${run}: ${built.outputs.digest}`,
    );
    expect(operations(token)).toHaveLength(13);
  });

  it('(h) a fork run’s artifact of the same name is never released', async () => {
    const repo = await newRepo(emulator());
    const real = runId();
    const built = await build(repo, { runId: real });
    emulator().evictCaches(repo.name);
    const fork = runId();
    await uploadArtifacts(
      repo,
      fork,
      {
        ...forgedBuild(fork),
      },
      { sha: SHA_A, headRepository: 'evil/shop' },
    );
    const released = await release(repo, { runId: runId(), inputs: keyInputs() });
    expect(released.errors).toEqual([]);
    expect(released.log).toContain(
      `Passed over ${factsFileName('shop', SHA_A)} of run ${fork}: that run is not of this repository at ${SHA_A}`,
    );
    const [published] = emulator().state.repository(repo.name).releases;
    expect(published?.assets[0]?.digest).toBe(built.outputs.digest);

    const alone = await newRepo(emulator());
    const forkOnly = runId();
    await uploadArtifacts(alone, forkOnly, forgedBuild(forkOnly), {
      sha: SHA_A,
      headRepository: 'evil/shop',
    });
    const refused = await release(alone, { runId: runId(), inputs: keyInputs() });
    expect(refused.code).toBe(1);
    expect(refused.errors[0]).toMatch(
      /^Input 'sha': no build of shop at [0-9a-f]{40} in this run's/,
    );
    expectNothingReleased(emulator().state.repository(alone.name));
  });

  it('(i) artifact and cache gone: releasing a commit released before reuses that release’s bundle', async () => {
    const repo = await newRepo(emulator());
    const built = await build(repo, { runId: runId() });
    const first = await release(repo, { runId: runId(), inputs: keyInputs() });
    expect(first.errors).toEqual([]);
    for (const artifact of emulator().state.repository(repo.name).artifacts) {
      const response = await fetch(
        `${emulator().apiUrl}/repos/${repo.name}/actions/artifacts/${artifact.id}`,
        { method: 'DELETE', headers: { authorization: `Bearer ${emulator().token}` } },
      );
      expect(response.status).toBe(204);
    }
    emulator().evictCaches(repo.name);
    const token = newToken();
    const again = await release(repo, {
      runId: runId(),
      token,
      inputs: keyInputs({ vars: JSON.stringify({ PORT: '8080' }) }),
    });
    expect(again.errors).toEqual([]);
    expect(again.log).toContain(
      `Found the build of ${SHA_A} in release shop/production/v1: ${built.outputs.digest}`,
    );
    expect(again.outputs).toMatchObject({ 'release-id': 'v2', changes: 'Config add PORT' });
    const v2 = emulator()
      .state.repository(repo.name)
      .releases.find((r) => r.tag.endsWith('/v2'));
    expect(v2?.assets[0]?.digest).toBe(built.outputs.digest);
    // Three requests to check v1's release.json, its signature and its bundle instead of four
    // to fetch the artifacts; v1 is also the release v2 chains to, its two files read again.
    expect(operations(token)).toHaveLength(17);
  });
});
