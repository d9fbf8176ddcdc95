import { mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Fault, FaultOptions } from '../emulator/index.js';
import { useGitHub } from '../emulator/vitest.js';
import { appTree, makeKeys, pack, publishRelease, type ReleaseKeys } from '../helpers/releases.js';
import {
  SHA_B,
  build,
  deployLocal,
  newRepo,
  newToken,
  release,
  startRelease,
} from './release-helpers.js';

/*
 * The ledger at length and under lost answers. Faults are emulator-wide, so this file has its
 * own emulator and runs one release at a time.
 */

const emulator = useGitHub();
let keys: ReleaseKeys;

beforeAll(async () => {
  keys = await makeKeys();
});

function keyInputs(): Record<string, string> {
  return { 'signing-key': keys.signer.privateKey, recipients: keys.recipient };
}

function operations(token: string): (string | undefined)[] {
  return emulator()
    .requestsBy(token)
    .map((request) => request.operation);
}

describe('a long ledger', () => {
  it('(c) 1,200 releases: release makes v1201 in at most 30 requests, run resolves latest in at most 10', async () => {
    const repo = await newRepo(emulator());
    emulator().seedReleases(repo.name, { app: 'shop', environment: 'production', count: 1199 });
    // The newest is made as release-action makes it, so the next one chains to it.
    const bundle = await pack(await appTree(), 'shop', SHA_B);
    await publishRelease(emulator(), {
      repository: repo.name,
      app: 'shop',
      environment: 'production',
      id: 'v1200',
      sha: SHA_B,
      bundle,
      keys,
    });
    const run = 15_000;
    await build(repo, { runId: run });
    const token = newToken();
    const released = await release(repo, { runId: run, token, inputs: keyInputs() });
    expect(released.errors).toEqual([]);
    expect(released.outputs).toMatchObject({
      'release-id': 'v1201',
      'previous-release-id': 'v1200',
    });
    expect(operations(token).length).toBeLessThanOrEqual(30);
    expect(operations(token)).not.toContain('repos/list-releases');

    const root = await mkdtemp(path.join(tmpdir(), 'brr-deploy-'));
    try {
      const deployToken = newToken();
      const deployed = await deployLocal(repo, {
        runId: run,
        token: deployToken,
        environment: 'production',
        root,
        allowedSigners: keys.allowedSigners,
        inputs: { deployment: 'false' },
      });
      expect(deployed.errors).toEqual([]);
      expect(deployed.outputs['release-id']).toBe('v1201');
      expect(await readlink(path.join(root, 'current'))).toBe('releases/v1201');
      // Resolving `latest` is the first two; then its release.json and signature, the link to
      // v1200 (its release, release.json and signature), and the bundle.
      expect(operations(deployToken)).toEqual([
        'git/list-matching-refs',
        'repos/get-release-by-tag',
        'repos/get-release-asset',
        'repos/get-release-asset',
        'repos/get-release-by-tag',
        'repos/get-release-asset',
        'repos/get-release-asset',
        'repos/get-release-asset',
      ]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('(f) answers lost after the effect', () => {
  const cases: [string, string, Fault, FaultOptions][] = [
    ['creating the tag', 'git/create-ref', { kind: 'lost' }, {}],
    [
      'creating the tag (the connection drops)',
      'git/create-ref',
      { kind: 'lost', as: 'reset' },
      {},
    ],
    ['creating the draft', 'repos/create-release', { kind: 'lost' }, {}],
    ['uploading the bundle', 'repos/upload-release-asset', { kind: 'lost' }, {}],
    ['uploading release.json', 'repos/upload-release-asset', { kind: 'lost' }, { after: 1 }],
    ['uploading the signature', 'repos/upload-release-asset', { kind: 'lost' }, { after: 2 }],
    [
      'an upload that fails part-way (a starter asset)',
      'repos/upload-release-asset',
      { kind: 'starter' },
      {},
    ],
    ['publishing', 'repos/update-release', { kind: 'lost' }, {}],
  ];

  it('each is recognised: the release is made once, nothing is left behind, the next one follows at once', async () => {
    const repo = await newRepo(emulator());
    const run = 15_100;
    await build(repo, { runId: run });
    for (const [n, [what, target, fault, options]] of cases.entries()) {
      const injected = emulator().faults.inject(target, fault, options);
      const token = newToken();
      const started = Date.now();
      const result = await release(repo, { runId: run, token, inputs: keyInputs() });
      const seconds = (Date.now() - started) / 1000;
      expect(injected.hits, what).toBe(1);
      expect(result.errors, what).toEqual([]);
      expect(result.outputs['release-id'], what).toBe(`v${n + 1}`);
      expect(seconds, what).toBeLessThan(60);
      expect(result.log, what).not.toContain('Waiting for');
      const state = emulator().state.repository(repo.name);
      expect(
        state.releases.filter((entry) => entry.draft),
        what,
      ).toEqual([]);
      expect(state.releases, what).toHaveLength(n + 1);
      expect(Object.keys(state.tags), what).toHaveLength(n + 1);
      const assets = state.releases.at(-1)?.assets.map((asset) => asset.state);
      expect(assets, what).toEqual(['uploaded', 'uploaded', 'uploaded']);
      expect(operations(token).length, what).toBeLessThanOrEqual(16);
    }
  });
});

describe('the default branch moving', () => {
  it('on to other workflow files while the tag is being made: the tag follows it', async () => {
    const repo = await newRepo(emulator());
    const run = 15_200;
    await build(repo, { runId: run });
    const delayed = emulator().faults.inject('git/create-tag', { kind: 'delay', ms: 1500 });
    const started = await startRelease(repo, { runId: run, inputs: keyInputs() });
    while (delayed.hits === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    const moved = '4'.repeat(40);
    emulator().setWorkflows(repo.name, moved, 'ci.yml changed');
    emulator().setRef(repo.name, 'refs/heads/main', moved);
    const result = await started.result;
    expect(result.errors).toEqual([]);
    expect(result.log).toContain(`main moved on to ${moved} while reserving; tagging there`);
    expect(emulator().state.repository(repo.name).tagCommits).toEqual({
      'shop/production/v1': moved,
    });
  });
});
