import { createHash } from 'node:crypto';
import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GitHubEmulator } from './index.js';
import { useGitHub } from './vitest.js';

const emulator = useGitHub();
let github: GitHubEmulator;

beforeAll(() => {
  github = emulator();
});

/** The client our actions use: Octokit from @actions/github with plugin-retry, fast retries. */
function client(token = github.token) {
  return getOctokit(token, { baseUrl: github.apiUrl, retry: { retryAfterBaseValue: 5 } }, retry);
}

function repository(name: string, options?: Parameters<GitHubEmulator['createRepository']>[1]) {
  const handle = github.createRepository(`acme/${name}`, options);
  return { owner: 'acme', repo: name, sha: handle.headSha };
}

async function status(promise: Promise<unknown>): Promise<{ status: number; data: unknown }> {
  try {
    await promise;
    return { status: 200, data: undefined };
  } catch (error) {
    const { status, response } = error as { status: number; response?: { data: unknown } };
    return { status, data: response?.data };
  }
}

describe('releases', () => {
  it('publishes draft-first: create, upload through upload_url, publish, list, download', async () => {
    const octokit = client();
    const { sha, ...repo } = repository('publish');
    const tag = 'shop/production/v1';
    const { data: draft } = await octokit.rest.repos.createRelease({
      ...repo,
      tag_name: tag,
      target_commitish: sha,
      name: 'v1',
      draft: true,
    });
    expect(draft).toMatchObject({ draft: true, immutable: false, published_at: null });
    expect(draft.upload_url.startsWith(`${github.uploadsUrl}/`)).toBe(true);
    expect(github.state.repository('acme/publish').tags).toEqual({});

    const manifest = Buffer.from('{"id":"v1"}');
    const { data: asset } = await octokit.rest.repos.uploadReleaseAsset({
      ...repo,
      release_id: draft.id,
      url: draft.upload_url,
      name: 'release.json',
      data: manifest as unknown as string,
      headers: { 'content-type': 'application/json', 'content-length': manifest.length },
    });
    expect(asset).toMatchObject({
      name: 'release.json',
      size: manifest.length,
      digest: `sha256:${createHash('sha256').update(manifest).digest('hex')}`,
    });

    const { data: published } = await octokit.rest.repos.updateRelease({
      ...repo,
      release_id: draft.id,
      draft: false,
    });
    expect(published).toMatchObject({ draft: false, immutable: true, tag_name: tag });
    expect(published.published_at).not.toBeNull();
    expect(github.state.repository('acme/publish').tags).toEqual({ [tag]: sha });

    const { data: byTag } = await octokit.rest.repos.getReleaseByTag({ ...repo, tag });
    expect(byTag.assets.map((a) => a.name)).toEqual(['release.json']);
    const listed = await octokit.paginate(octokit.rest.repos.listReleases, repo);
    expect(listed.map((r) => r.id)).toEqual([draft.id]);

    const download = await octokit.request('GET /repos/{owner}/{repo}/releases/assets/{asset_id}', {
      ...repo,
      asset_id: asset.id,
      headers: { accept: 'application/octet-stream' },
    });
    expect(Buffer.from(download.data as unknown as ArrayBuffer)).toEqual(manifest);
    const redirect = github
      .requests()
      .find((r) => r.operation === 'repos/get-release-asset' && r.status === 302);
    expect(redirect).toBeDefined();

    expect(github.state.repository('acme/publish').releases).toMatchObject([
      { tag, draft: false, immutable: true, assets: [{ name: 'release.json' }] },
    ]);
  });

  it('refuses a second release on a tag that has one (422 already_exists)', async () => {
    const octokit = client();
    const { sha, ...repo } = repository('duplicate');
    await octokit.rest.repos.createRelease({ ...repo, tag_name: 'v1', target_commitish: sha });
    for (const draft of [false, true]) {
      const answer = await status(
        octokit.rest.repos.createRelease({ ...repo, tag_name: 'v1', draft }),
      );
      expect(answer.status).toBe(422);
      expect(answer.data).toMatchObject({
        message: 'Validation Failed',
        errors: [{ resource: 'Release', code: 'already_exists', field: 'tag_name' }],
      });
    }
  });

  it('makes a draft on a tag reserved without a release, and refuses to publish a taken tag', async () => {
    const octokit = client();
    const { sha, ...repo } = repository('reserved');
    await octokit.rest.git.createRef({ ...repo, ref: 'refs/tags/v1', sha });
    const { data: first } = await octokit.rest.repos.createRelease({
      ...repo,
      tag_name: 'v1',
      draft: true,
    });
    const { data: second } = await octokit.rest.repos.createRelease({
      ...repo,
      tag_name: 'v1',
      draft: true,
    });
    await octokit.rest.repos.updateRelease({ ...repo, release_id: first.id, draft: false });
    const answer = await status(
      octokit.rest.repos.updateRelease({ ...repo, release_id: second.id, draft: false }),
    );
    expect(answer.status).toBe(422);
    expect(github.state.repository('acme/reserved').tags).toEqual({ v1: sha });
  });

  it('locks an immutable release at publish: no upload, asset deletion or tag deletion', async () => {
    const octokit = client();
    const { sha, ...repo } = repository('immutable');
    const { data: release } = await octokit.rest.repos.createRelease({
      ...repo,
      tag_name: 'v1',
      target_commitish: sha,
      draft: true,
    });
    const upload = (name: string) =>
      octokit.rest.repos.uploadReleaseAsset({
        ...repo,
        release_id: release.id,
        url: release.upload_url,
        name,
        data: 'bundle',
        headers: { 'content-type': 'application/octet-stream' },
      });
    const { data: asset } = await upload('bundle.tar.zst');
    await octokit.rest.repos.updateRelease({ ...repo, release_id: release.id, draft: false });

    const late = await status(upload('late.txt'));
    expect(late).toMatchObject({
      status: 422,
      data: { message: 'Cannot upload assets to an immutable release.' },
    });
    const removal = await status(
      octokit.rest.repos.deleteReleaseAsset({ ...repo, asset_id: asset.id }),
    );
    expect(removal.status).toBe(422);
    const rename = await status(
      octokit.rest.repos.updateReleaseAsset({ ...repo, asset_id: asset.id, name: 'other' }),
    );
    expect(rename.status).toBe(422);
    const untag = await status(octokit.rest.git.deleteRef({ ...repo, ref: 'tags/v1' }));
    expect(untag.status).toBe(422);
    const retag = await status(
      octokit.rest.repos.updateRelease({ ...repo, release_id: release.id, tag_name: 'v2' }),
    );
    expect(retag.status).toBe(422);
    const { data: renamed } = await octokit.rest.repos.updateRelease({
      ...repo,
      release_id: release.id,
      name: 'Notes may change',
    });
    expect(renamed.name).toBe('Notes may change');

    await octokit.rest.repos.deleteRelease({ ...repo, release_id: release.id });
    const reuse = await status(
      octokit.rest.repos.createRelease({ ...repo, tag_name: 'v1', draft: true }),
    );
    expect(reuse.data).toMatchObject({
      errors: [{ field: 'tag_name', message: 'tag_name was used by an immutable release' }],
    });
    expect(github.state.repository('acme/immutable').releases).toEqual([]);
  });

  it('takes assets after publish when immutable releases are off', async () => {
    const octokit = client();
    const { sha, ...repo } = repository('mutable', { immutableReleases: false });
    const { data: release } = await octokit.rest.repos.createRelease({
      ...repo,
      tag_name: 'v1',
      target_commitish: sha,
    });
    expect(release.immutable).toBe(false);
    const { data: asset } = await octokit.rest.repos.uploadReleaseAsset({
      ...repo,
      release_id: release.id,
      url: release.upload_url,
      name: 'late.txt',
      data: 'late',
      headers: { 'content-type': 'text/plain' },
    });
    await octokit.rest.repos.deleteReleaseAsset({ ...repo, asset_id: asset.id });
    expect(github.state.repository('acme/mutable').releases[0]?.assets).toEqual([]);
  });

  it('hides drafts from anonymous readers and from get-by-tag; private repositories are 404', async () => {
    const octokit = client();
    const { sha, ...repo } = repository('drafts');
    const { data: draft } = await octokit.rest.repos.createRelease({
      ...repo,
      tag_name: 'v2',
      target_commitish: sha,
      draft: true,
    });
    await octokit.rest.repos.createRelease({ ...repo, tag_name: 'v1', target_commitish: sha });

    const anonymous = await fetch(`${github.apiUrl}/repos/acme/drafts/releases`);
    const visible = (await anonymous.json()) as { tag_name: string }[];
    expect(visible.map((r) => r.tag_name)).toEqual(['v1']);
    expect((await fetch(`${github.apiUrl}/repos/acme/drafts/releases/${draft.id}`)).status).toBe(
      404,
    );
    const byTag = await status(octokit.rest.repos.getReleaseByTag({ ...repo, tag: 'v2' }));
    expect(byTag.status).toBe(404);
    const mine = await octokit.rest.repos.listReleases(repo);
    expect(mine.data.map((r) => r.tag_name)).toEqual(['v1', 'v2']);

    repository('secret', { visibility: 'private' });
    const hidden = await fetch(`${github.apiUrl}/repos/acme/secret/releases`);
    expect(hidden.status).toBe(404);
    expect(await hidden.json()).toMatchObject({ message: 'Not Found' });
  });

  it('paginates with per_page, page and Link headers', async () => {
    const octokit = client();
    const { sha, ...repo } = repository('pages');
    for (let n = 1; n <= 5; n++) {
      await octokit.rest.repos.createRelease({ ...repo, tag_name: `v${n}`, target_commitish: sha });
    }
    const first = await octokit.rest.repos.listReleases({ ...repo, per_page: 2 });
    expect(first.data.map((r) => r.tag_name)).toEqual(['v5', 'v4']);
    expect(first.headers.link).toContain('page=2>; rel="next"');
    expect(first.headers.link).toContain('page=3>; rel="last"');
    const all = await octokit.paginate(octokit.rest.repos.listReleases, { ...repo, per_page: 2 });
    expect(all.map((r) => r.tag_name)).toEqual(['v5', 'v4', 'v3', 'v2', 'v1']);
    // matching-refs ignores per_page: every matching ref in one answer, without a Link header.
    const refs = await octokit.rest.git.listMatchingRefs({ ...repo, ref: 'tags/v', per_page: 2 });
    expect(refs.data.map((r) => r.ref)).toEqual([1, 2, 3, 4, 5].map((n) => `refs/tags/v${n}`));
    expect(refs.headers.link).toBeUndefined();
  });
});

describe('requests GitHub would refuse', () => {
  it('answers 401 without a token on writes and for an unknown token', async () => {
    repository('auth');
    const anonymous = await fetch(`${github.apiUrl}/repos/acme/auth/releases`, {
      method: 'POST',
      body: JSON.stringify({ tag_name: 'v1' }),
    });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ message: 'Requires authentication' });
    const stranger = await status(
      client('ghs_unknown').rest.repos.get({ owner: 'acme', repo: 'auth' }),
    );
    expect(stranger).toMatchObject({ status: 401, data: { message: 'Bad credentials' } });
  });

  it('names the operation and the field of a request that breaks the contract', async () => {
    const octokit = client();
    const repo = repository('contract');
    const wrongType = await status(
      octokit.request('POST /repos/{owner}/{repo}/releases', {
        owner: repo.owner,
        repo: repo.repo,
        // What a JavaScript caller without types could send.
        tag_name: 123 as unknown as string,
      }),
    );
    expect(wrongType.status).toBe(422);
    expect(JSON.stringify(wrongType.data)).toContain(
      'repos/create-release: body.tag_name must be string',
    );
    const typo = await status(
      octokit.request('POST /repos/{owner}/{repo}/releases', {
        owner: repo.owner,
        repo: repo.repo,
        tag_name: 'v1',
        prerelase: true,
      }),
    );
    expect(typo.status).toBe(422);
    expect(github.violations()).toEqual([
      expect.objectContaining({
        operation: 'repos/create-release',
        direction: 'request',
        field: 'body.tag_name',
      }),
      expect.objectContaining({ field: 'body.prerelase', message: 'is not a documented field' }),
    ]);
    github.clearViolations();
  });

  it('answers unknown routes 404 in GitHub shape, and reports them', async () => {
    const response = await fetch(`${github.apiUrl}/repos/acme/contract/releases/by-name/v1`, {
      headers: { authorization: `token ${github.token}` },
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      message: 'Not Found',
      documentation_url: 'https://docs.github.com/rest',
    });
    expect(github.violations()).toMatchObject([{ operation: 'unknown', field: 'route' }]);
    github.clearViolations();
  });

  it('refuses an asset upload sent to the API origin instead of upload_url', async () => {
    const octokit = client();
    const { sha, ...repo } = repository('origin');
    const { data: release } = await octokit.rest.repos.createRelease({
      ...repo,
      tag_name: 'v1',
      target_commitish: sha,
      draft: true,
    });
    const answer = await status(
      octokit.rest.repos.uploadReleaseAsset({
        ...repo,
        release_id: release.id,
        baseUrl: github.apiUrl,
        name: 'x.txt',
        data: 'x',
        headers: { 'content-type': 'text/plain' },
      }),
    );
    expect(answer.status).toBe(404);
    expect(github.violations()).toMatchObject([
      { operation: 'repos/upload-release-asset', field: 'origin' },
    ]);
    github.clearViolations();
  });
});

describe('faults', () => {
  it('an injected 503 is retried by plugin-retry', async () => {
    repository('flaky');
    const fault = github.faults.inject('repos/get', { kind: 'status', status: 503 });
    const { data } = await client().rest.repos.get({ owner: 'acme', repo: 'flaky' });
    expect(data.full_name).toBe('acme/flaky');
    expect(fault.hits).toBe(1);
    const statuses = github
      .requests()
      .filter((r) => r.path === '/repos/acme/flaky')
      .map((r) => r.status);
    expect(statuses).toEqual([503, 200]);
  });

  it('a connection reset is retried too, and a persistent one surfaces', async () => {
    repository('reset');
    github.faults.inject('GET /repos/{owner}/{repo}', { kind: 'reset' });
    const { data } = await client().rest.repos.get({ owner: 'acme', repo: 'reset' });
    expect(data.name).toBe('reset');
    github.faults.inject('repos/get', { kind: 'reset' }, { times: Infinity });
    const answer = await status(client().rest.repos.get({ owner: 'acme', repo: 'reset' }));
    expect(answer.status).toBe(500);
  });

  it('rate limits (primary 403, secondary 429 with retry-after) are waited out by plugin-throttling', async () => {
    repository('limited');
    const waits: { kind: string; retryAfter: number }[] = [];
    const octokit = getOctokit(
      github.token,
      {
        baseUrl: github.apiUrl,
        throttle: {
          retryAfterBaseValue: 10,
          onRateLimit: (retryAfter: number) => waits.push({ kind: 'primary', retryAfter }) > 0,
          onSecondaryRateLimit: (retryAfter: number) =>
            waits.push({ kind: 'secondary', retryAfter }) > 0,
        },
      },
      throttling,
    );
    github.faults.inject('repos/get', { kind: 'rate-limit', type: 'primary', retryAfter: 2 });
    github.faults.inject('repos/get', {
      kind: 'rate-limit',
      type: 'secondary',
      status: 429,
      retryAfter: 3,
    });
    const { data } = await octokit.rest.repos.get({ owner: 'acme', repo: 'limited' });
    expect(data.name).toBe('limited');
    expect(waits.map((w) => w.kind)).toEqual(['primary', 'secondary']);
    expect(waits[1]?.retryAfter).toBe(3);
  });

  it('a delay holds the answer back', async () => {
    repository('slow');
    github.faults.inject('repos/get', { kind: 'delay', ms: 300 });
    const started = Date.now();
    await client().rest.repos.get({ owner: 'acme', repo: 'slow' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });
});

describe('git refs', () => {
  it('creates, reads, lists by prefix and deletes refs', async () => {
    const octokit = client();
    const { sha, ...repo } = repository('refs');
    await octokit.rest.git.createRef({ ...repo, ref: 'refs/tags/shop/production/v1', sha });
    const taken = await status(
      octokit.rest.git.createRef({ ...repo, ref: 'refs/tags/shop/production/v1', sha }),
    );
    expect(taken).toMatchObject({ status: 422, data: { message: 'Reference already exists' } });
    const { data: ref } = await octokit.rest.git.getRef({
      ...repo,
      ref: 'tags/shop/production/v1',
    });
    expect(ref.object.sha).toBe(sha);
    const { data: heads } = await octokit.rest.git.listMatchingRefs({ ...repo, ref: 'heads/' });
    expect(heads.map((h) => h.ref)).toEqual(['refs/heads/main']);
    await octokit.rest.git.deleteRef({ ...repo, ref: 'tags/shop/production/v1' });
    const gone = await status(octokit.rest.git.getRef({ ...repo, ref: 'tags/shop/production/v1' }));
    expect(gone.status).toBe(404);
    const again = await status(
      octokit.rest.git.deleteRef({ ...repo, ref: 'tags/shop/production/v1' }),
    );
    expect(again).toMatchObject({ status: 422, data: { message: 'Reference does not exist' } });
  });
});

describe('deployments', () => {
  it('records deployments and statuses; success makes earlier ones inactive (auto_inactive)', async () => {
    const octokit = client();
    const { sha, ...repo } = repository('deploy');
    const deploy = async (environment: string, transient = false) => {
      const { data } = await octokit.rest.repos.createDeployment({
        ...repo,
        ref: sha,
        environment,
        auto_merge: false,
        required_contexts: [],
        payload: { release: 'v1' },
        transient_environment: transient,
      });
      if (!('id' in data)) throw new Error('no deployment');
      for (const state of ['in_progress', 'success'] as const) {
        await octokit.rest.repos.createDeploymentStatus({
          ...repo,
          deployment_id: data.id,
          state,
          environment_url: 'https://staging.example.com',
        });
      }
      return data;
    };
    const first = await deploy('staging');
    const second = await deploy('staging');
    expect(first).toMatchObject({ sha, environment: 'staging', production_environment: false });
    const { data: statuses } = await octokit.rest.repos.listDeploymentStatuses({
      ...repo,
      deployment_id: first.id,
    });
    expect(statuses.map((s) => s.state)).toEqual(['inactive', 'success', 'in_progress']);
    const deployments = github.state.repository('acme/deploy').deployments;
    expect(deployments.find((d) => d.id === second.id)?.statuses.at(-1)?.state).toBe('success');

    const preview = await deploy('pr-7', true);
    await octokit.rest.repos.createDeploymentStatus({
      ...repo,
      deployment_id: preview.id,
      state: 'inactive',
    });
    const listed = await octokit.rest.repos.listDeployments({ ...repo, environment: 'pr-7' });
    expect(listed.data).toMatchObject([{ id: preview.id, transient_environment: true }]);
    await octokit.rest.repos.deleteDeployment({ ...repo, deployment_id: preview.id });
    const active = await status(
      octokit.rest.repos.deleteDeployment({ ...repo, deployment_id: second.id }),
    );
    expect(active.status).toBe(422);
  });

  it('serves repository metadata', async () => {
    repository('meta', { defaultBranch: 'trunk' });
    const { data } = await client().rest.repos.get({ owner: 'acme', repo: 'meta' });
    expect(data).toMatchObject({ full_name: 'acme/meta', default_branch: 'trunk', private: false });
  });
});
