import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { outcome, useRestApi } from './clients.js';

const { github, client, repository } = useRestApi();

const status = outcome;

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
    expect(draft.upload_url.startsWith(`${github().uploadsUrl}/`)).toBe(true);
    expect(github().state.repository('acme/publish').tags).toEqual({});

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
    expect(github().state.repository('acme/publish').tags).toEqual({ [tag]: sha });

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
    const redirect = github()
      .requests()
      .find((r) => r.operation === 'repos/get-release-asset' && r.status === 302);
    expect(redirect).toBeDefined();

    expect(github().state.repository('acme/publish').releases).toMatchObject([
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
    expect(github().state.repository('acme/reserved').tags).toEqual({ v1: sha });
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
    expect(github().state.repository('acme/immutable').releases).toEqual([]);
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
    expect(github().state.repository('acme/mutable').releases[0]?.assets).toEqual([]);
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

    const anonymous = await fetch(`${github().apiUrl}/repos/acme/drafts/releases`);
    const visible = (await anonymous.json()) as { tag_name: string }[];
    expect(visible.map((r) => r.tag_name)).toEqual(['v1']);
    expect((await fetch(`${github().apiUrl}/repos/acme/drafts/releases/${draft.id}`)).status).toBe(
      404,
    );
    const byTag = await status(octokit.rest.repos.getReleaseByTag({ ...repo, tag: 'v2' }));
    expect(byTag.status).toBe(404);
    const mine = await octokit.rest.repos.listReleases(repo);
    expect(mine.data.map((r) => r.tag_name)).toEqual(['v1', 'v2']);

    repository('secret', { visibility: 'private' });
    const hidden = await fetch(`${github().apiUrl}/repos/acme/secret/releases`);
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
    const anonymous = await fetch(`${github().apiUrl}/repos/acme/auth/releases`, {
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
    expect(github().violations()).toEqual([
      expect.objectContaining({
        operation: 'repos/create-release',
        direction: 'request',
        field: 'body.tag_name',
      }),
      expect.objectContaining({ field: 'body.prerelase', message: 'is not a documented field' }),
    ]);
    github().clearViolations();
  });

  it('answers unknown routes 404 in GitHub shape, and reports them', async () => {
    const response = await fetch(`${github().apiUrl}/repos/acme/contract/releases/by-name/v1`, {
      headers: { authorization: `token ${github().token}` },
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      message: 'Not Found',
      documentation_url: 'https://docs.github.com/rest',
    });
    expect(github().violations()).toMatchObject([{ operation: 'unknown', field: 'route' }]);
    github().clearViolations();
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
        baseUrl: github().apiUrl,
        name: 'x.txt',
        data: 'x',
        headers: { 'content-type': 'text/plain' },
      }),
    );
    expect(answer.status).toBe(404);
    expect(github().violations()).toMatchObject([
      { operation: 'repos/upload-release-asset', field: 'origin' },
    ]);
    github().clearViolations();
  });
});
