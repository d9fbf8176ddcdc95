import http from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import type { GitHubEmulator } from './index.js';
import { outcome, plainClient } from './clients.js';
import { useGitHub } from './vitest.js';

/*
 * The rules github.com enforces, each switchable per repository (or commit), each shown refusing
 * what GitHub refuses and allowing what it allows.
 */

const emulator = useGitHub();
let github: GitHubEmulator;

beforeAll(() => {
  github = emulator();
});

const client = (token?: string) => plainClient(github, token);

let count = 0;
function repository(options?: Parameters<GitHubEmulator['createRepository']>[1]) {
  const name = `rules-${count++}`;
  const handle = github.createRepository(`acme/${name}`, options);
  return { repo: { owner: 'acme', repo: name }, head: handle.headSha, fullName: handle.fullName };
}

const answer = outcome;

const OLD = '1'.repeat(40);

/** A draft release `v1` targeting a commit. */
async function draftAt(
  octokit: ReturnType<typeof client>,
  repo: { owner: string; repo: string },
  commit: string,
) {
  const { data } = await octokit.rest.repos.createRelease({
    ...repo,
    tag_name: 'v1',
    target_commitish: commit,
    draft: true,
  });
  return data;
}

describe('the Actions token and workflow files', () => {
  it('refuses a tag (403) and a release (404) at a commit whose workflows differ from the default head', async () => {
    const octokit = client();
    const { head, fullName, repo } = repository();
    github.setWorkflows(fullName, OLD, 'before the change');

    const tag = await answer(
      octokit.rest.git.createRef({ ...repo, ref: 'refs/tags/at-old', sha: OLD }),
    );
    expect(tag).toMatchObject({
      status: 403,
      data: { message: 'Resource not accessible by integration' },
    });
    const release = await answer(
      octokit.rest.repos.createRelease({ ...repo, tag_name: 'r-old', target_commitish: OLD }),
    );
    expect(release).toMatchObject({ status: 404, data: { message: 'Not Found' } });

    // The head itself, or a commit with the same workflows, is fine.
    await octokit.rest.git.createRef({ ...repo, ref: 'refs/tags/at-head', sha: head });
    await octokit.rest.git.createRef({ ...repo, ref: 'refs/tags/same', sha: '2'.repeat(40) });
    expect(Object.keys(github.state.repository(fullName).tags).sort()).toEqual(['at-head', 'same']);
  });

  it('refuses to publish a draft whose target changes workflows once main moves on', async () => {
    const octokit = client();
    const { head, fullName, repo } = repository();
    const draft = await draftAt(octokit, repo, head);
    const moved = '3'.repeat(40);
    github.setWorkflows(fullName, moved, 'a workflow changed');
    github.setRef(fullName, 'refs/heads/main', moved);
    const publish = await answer(
      octokit.rest.repos.updateRelease({ ...repo, release_id: draft.id, draft: false }),
    );
    expect(publish.status).toBe(404);
    // A release that targets the default branch by name follows its head.
    const { data: byBranch } = await octokit.rest.repos.createRelease({
      ...repo,
      tag_name: 'v2',
      draft: true,
    });
    await octokit.rest.repos.updateRelease({ ...repo, release_id: byBranch.id, draft: false });
    expect(github.state.repository(fullName).tags).toEqual({ v2: moved });
  });
});

describe('tag names GitHub never gives out again', () => {
  it('refuses a tag once used by a deleted immutable release, with or without its ref', async () => {
    const octokit = client();
    const { head, fullName, repo } = repository();
    const { data: release } = await octokit.rest.repos.createRelease({
      ...repo,
      tag_name: 'shop/pr-1/v1',
      target_commitish: head,
    });
    await octokit.rest.repos.deleteRelease({ ...repo, release_id: release.id });
    await octokit.rest.git.deleteRef({ ...repo, ref: 'tags/shop/pr-1/v1' });
    const again = await answer(
      octokit.rest.git.createRef({ ...repo, ref: 'refs/tags/shop/pr-1/v1', sha: head }),
    );
    expect(again).toMatchObject({
      status: 422,
      data: {
        message:
          'Repository rule violations found\n\nCannot create ref due to creations being restricted.\n\n',
      },
    });
    expect(github.state.repository(fullName).tags).toEqual({});
  });

  it('reuses the name when immutable releases are off', async () => {
    const octokit = client();
    const { head, fullName, repo } = repository({ immutableReleases: false });
    const { data: release } = await octokit.rest.repos.createRelease({
      ...repo,
      tag_name: 'v1',
      target_commitish: head,
    });
    await octokit.rest.repos.deleteRelease({ ...repo, release_id: release.id });
    await octokit.rest.git.deleteRef({ ...repo, ref: 'tags/v1' });
    await octokit.rest.git.createRef({ ...repo, ref: 'refs/tags/v1', sha: head });
    expect(github.state.repository(fullName).tags).toEqual({ v1: head });
  });

  it('refuses tags a ruleset restricts, and lists the ruleset with its conditions', async () => {
    const octokit = client();
    const { head, fullName, repo } = repository();
    const id = github.addRuleset(fullName, {
      name: 'production tags',
      include: ['refs/tags/shop/production/*'],
    });
    github.addRuleset(fullName, {
      name: 'switched off',
      include: ['~ALL'],
      enforcement: 'disabled',
    });
    const refused = await answer(
      octokit.rest.git.createRef({ ...repo, ref: 'refs/tags/shop/production/v1', sha: head }),
    );
    expect(refused).toMatchObject({
      status: 422,
      data: {
        message:
          'Repository rule violations found\n\nCannot create ref due to creations being restricted.\n\n',
      },
    });
    // `*` stops at a slash: a deeper name is not matched.
    await octokit.rest.git.createRef({ ...repo, ref: 'refs/tags/shop/production/x/y', sha: head });
    await octokit.rest.git.createRef({ ...repo, ref: 'refs/tags/shop/staging/v1', sha: head });
    const { data: listed } = await octokit.rest.repos.getRepoRulesets({ ...repo, targets: 'tag' });
    expect(listed.map((ruleset) => [ruleset.name, ruleset.enforcement])).toEqual([
      ['production tags', 'active'],
      ['switched off', 'disabled'],
    ]);
    const { data: one } = await octokit.rest.repos.getRepoRuleset({ ...repo, ruleset_id: id });
    expect(one.conditions).toEqual({
      ref_name: { include: ['refs/tags/shop/production/*'], exclude: [] },
    });
  });
});

describe('long lists', () => {
  it('stops listing releases and tags after 1,000; matching-refs answers every ref at once', async () => {
    const octokit = client();
    const { fullName, repo } = repository();
    github.seedReleases(fullName, { app: 'shop', environment: 'production', count: 1005 });
    const tenth = await octokit.rest.repos.listReleases({ ...repo, per_page: 100, page: 10 });
    expect(tenth.data).toHaveLength(100);
    for (const list of [octokit.rest.repos.listReleases, octokit.rest.repos.listTags]) {
      const past = await answer(list({ ...repo, per_page: 100, page: 11 }));
      expect(past).toMatchObject({
        status: 422,
        data: { message: 'Only the first 1000 results are available.' },
      });
    }
    const before = github.requests().length;
    const refs = await octokit.paginate(octokit.rest.git.listMatchingRefs, {
      ...repo,
      ref: 'tags/shop/production/v',
      per_page: 100,
    });
    expect(refs).toHaveLength(1005);
    expect(github.requests().length - before).toBe(1);
  });
});

describe('tag objects', () => {
  it('makes an annotated tag a ref can point at; refs say which kind they point at', async () => {
    const octokit = client();
    const { head, fullName, repo } = repository();
    const { data: tag } = await octokit.rest.git.createTag({
      ...repo,
      tag: 'shop/production/v1',
      message: 'reserved by run 7',
      object: head,
      type: 'commit',
    });
    await octokit.rest.git.createRef({
      ...repo,
      ref: 'refs/tags/shop/production/v1',
      sha: tag.sha,
    });
    await octokit.rest.git.createRef({ ...repo, ref: 'refs/tags/plain', sha: head });
    const { data: refs } = await octokit.rest.git.listMatchingRefs({ ...repo, ref: 'tags/' });
    expect(refs.map((ref) => [ref.ref, ref.object.type])).toEqual([
      ['refs/tags/plain', 'commit'],
      ['refs/tags/shop/production/v1', 'tag'],
    ]);
    const { data: read } = await octokit.rest.git.getTag({ ...repo, tag_sha: tag.sha });
    expect(read).toMatchObject({ message: 'reserved by run 7', object: { sha: head } });
    // A release on the tag targets the commit the tag object points at.
    await octokit.rest.repos.createRelease({ ...repo, tag_name: 'shop/production/v1' });
    expect(github.state.repository(fullName).tags['shop/production/v1']).toBe(tag.sha);
  });
});

describe('answers lost after the effect', () => {
  it('creates the ref, then answers 502; a retry finds it taken', async () => {
    const octokit = client();
    const { head, fullName, repo } = repository();
    github.faults.inject('git/create-ref', { kind: 'lost' });
    const lost = await answer(
      octokit.rest.git.createRef({ ...repo, ref: 'refs/tags/v1', sha: head }),
    );
    expect(lost.status).toBe(502);
    expect(github.state.repository(fullName).tags).toEqual({ v1: head });
    const retry = await answer(
      octokit.rest.git.createRef({ ...repo, ref: 'refs/tags/v1', sha: head }),
    );
    expect(retry).toMatchObject({ status: 422, data: { message: 'Reference already exists' } });
  });

  it('leaves a `starter` asset after a failed upload, holding the name until deleted', async () => {
    const octokit = client();
    const { head, fullName, repo } = repository();
    const draft = await draftAt(octokit, repo, head);
    const upload = () =>
      octokit.rest.repos.uploadReleaseAsset({
        ...repo,
        release_id: draft.id,
        url: draft.upload_url,
        name: 'release.json',
        data: '{}',
        headers: { 'content-type': 'application/json' },
      });
    github.faults.inject('repos/upload-release-asset', { kind: 'starter' });
    expect((await answer(upload())).status).toBe(502);
    const { data: assets } = await octokit.rest.repos.listReleaseAssets({
      ...repo,
      release_id: draft.id,
    });
    expect(assets.map((asset) => [asset.name, asset.state])).toEqual([['release.json', 'starter']]);
    expect(await answer(upload())).toMatchObject({
      status: 422,
      data: { errors: [{ code: 'already_exists', field: 'name' }] },
    });
    await octokit.rest.repos.deleteReleaseAsset({ ...repo, asset_id: assets[0]?.id ?? 0 });
    await upload();
    expect(github.state.repository(fullName).releases[0]?.assets).toMatchObject([
      { name: 'release.json', size: 2 },
    ]);
  });
});

describe('the sizes GitHub states', () => {
  it('takes release notes of 125,000 characters, not one more, counted as characters', async () => {
    const octokit = client();
    const { head, repo } = repository();
    const notes = (length: number) => 'é'.repeat(length);
    const create = (body: string) =>
      octokit.rest.repos.createRelease({
        ...repo,
        tag_name: 'v1',
        target_commitish: head,
        body,
        draft: true,
      });
    const refusal = {
      status: 422,
      data: {
        errors: [
          {
            resource: 'Release',
            field: 'body',
            code: 'custom',
            message: 'body is too long (maximum is 125000 characters)',
          },
        ],
      },
    };
    expect(await answer(create(notes(125_001)))).toMatchObject(refusal);
    const { data: draft } = await create(notes(125_000));
    const update = (body: string) =>
      octokit.rest.repos.updateRelease({ ...repo, release_id: draft.id, body });
    expect(await answer(update(`${notes(125_000)}!`))).toMatchObject(refusal);
    expect((await update('short')).data.body).toBe('short');
  });

  it('takes a deployment status description of 140 characters, not one more', async () => {
    const octokit = client();
    const { head, repo } = repository();
    const { data } = await octokit.rest.repos.createDeployment({
      ...repo,
      ref: head,
      environment: 'production',
      auto_merge: false,
      required_contexts: [],
    });
    if (!('id' in data)) throw new Error('no deployment');
    const status = (description: string) =>
      octokit.rest.repos.createDeploymentStatus({
        ...repo,
        deployment_id: data.id,
        state: 'success',
        description,
      });
    expect(await answer(status('x'.repeat(141)))).toMatchObject({
      status: 422,
      data: {
        errors: [
          {
            resource: 'DeploymentStatus',
            field: 'description',
            message: 'description is too long (maximum is 140 characters)',
          },
        ],
      },
    });
    expect((await status('x'.repeat(140))).status).toBe(201);
  });

  it('refuses a release asset over 2 GiB by the length it declares, storing nothing', async () => {
    const octokit = client();
    const { head, fullName, repo } = repository();
    const draft = await draftAt(octokit, repo, head);
    const url = new URL(draft.upload_url.replace(/\{.*\}$/, ''));
    url.searchParams.set('name', 'bundle.tar.zst');
    // Only the headers are sent: GitHub answers from the declared length.
    const answered = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request(url, {
        method: 'POST',
        headers: {
          authorization: `token ${github.token}`,
          'content-type': 'application/octet-stream',
          'content-length': String(2 * 1024 ** 3 + 1),
        },
      });
      request.on('response', (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          request.destroy();
          resolve({ status: response.statusCode ?? 0, body });
        });
      });
      request.on('error', reject);
      request.flushHeaders();
    });
    expect(answered.status).toBe(422);
    expect(JSON.parse(answered.body)).toMatchObject({
      errors: [
        {
          resource: 'ReleaseAsset',
          field: 'size',
          message: 'size must be less than or equal to 2147483648',
        },
      ],
    });
    expect(github.state.repository(fullName).releases[0]?.assets).toEqual([]);
  });
});

describe('the Actions token’s budget', () => {
  it('is 1,000 requests an hour per repository, counted per token', async () => {
    const { fullName, repo } = repository();
    const env = github.runnerEnv({ repository: fullName });
    const octokit = client(env.GITHUB_TOKEN);
    const first = await octokit.rest.repos.get(repo);
    expect(first.headers['x-ratelimit-limit']).toBe('1000');
    expect(first.headers['x-ratelimit-remaining']).toBe('999');
    const rest = await Promise.all(
      Array.from({ length: 999 }, () => answer(octokit.rest.repos.get(repo))),
    );
    expect(rest.every((one) => one.status === 200)).toBe(true);
    const over = await answer(octokit.rest.repos.get(repo));
    expect(over).toMatchObject({
      status: 403,
      data: { message: 'API rate limit exceeded for installation.' },
    });
    expect(github.requestsBy(env.GITHUB_TOKEN ?? '')).toHaveLength(1001);
  });
});
