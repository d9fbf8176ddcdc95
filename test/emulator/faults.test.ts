import { getOctokit } from '@actions/github';
import { throttling } from '@octokit/plugin-throttling';
import { describe, expect, it } from 'vitest';
import { outcome, useRestApi } from './clients.js';

/* Faults, refs and deployments on the emulator's REST API, with the clients our actions use. */

const { github, client, repository } = useRestApi();

const status = outcome;

describe('faults', () => {
  it('an injected 503 is retried by plugin-retry', async () => {
    repository('flaky');
    const fault = github().faults.inject('repos/get', { kind: 'status', status: 503 });
    const { data } = await client().rest.repos.get({ owner: 'acme', repo: 'flaky' });
    expect(data.full_name).toBe('acme/flaky');
    expect(fault.hits).toBe(1);
    const statuses = github()
      .requests()
      .filter((r) => r.path === '/repos/acme/flaky')
      .map((r) => r.status);
    expect(statuses).toEqual([503, 200]);
  });

  it('a connection reset is retried too, and a persistent one surfaces', async () => {
    repository('reset');
    github().faults.inject('GET /repos/{owner}/{repo}', { kind: 'reset' });
    const { data } = await client().rest.repos.get({ owner: 'acme', repo: 'reset' });
    expect(data.name).toBe('reset');
    github().faults.inject('repos/get', { kind: 'reset' }, { times: Infinity });
    const answer = await status(client().rest.repos.get({ owner: 'acme', repo: 'reset' }));
    expect(answer.status).toBe(500);
  });

  it('rate limits (primary 403, secondary 429 with retry-after) are waited out by plugin-throttling', async () => {
    repository('limited');
    const waits: { kind: string; retryAfter: number }[] = [];
    const octokit = getOctokit(
      github().token,
      {
        baseUrl: github().apiUrl,
        throttle: {
          retryAfterBaseValue: 10,
          onRateLimit: (retryAfter: number) => waits.push({ kind: 'primary', retryAfter }) > 0,
          onSecondaryRateLimit: (retryAfter: number) =>
            waits.push({ kind: 'secondary', retryAfter }) > 0,
        },
      },
      throttling,
    );
    github().faults.inject('repos/get', { kind: 'rate-limit', type: 'primary', retryAfter: 2 });
    github().faults.inject('repos/get', {
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
    github().faults.inject('repos/get', { kind: 'delay', ms: 300 });
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
    const deployments = github().state.repository('acme/deploy').deployments;
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
