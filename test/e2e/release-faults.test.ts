import { beforeAll, describe, expect, it } from 'vitest';
import type { Fault, FaultOptions } from '../emulator/index.js';
import { useGitHub } from '../emulator/vitest.js';
import { ageKey, sshKey, type AgeKey, type SshKey } from '../helpers/keys.js';
import {
  SHA_A,
  build,
  downloadRelease,
  expectNothingReleased,
  newRepo,
  release,
  type Repo,
} from './release-helpers.js';

/*
 * GitHub failing at each step of a release. Faults are emulator-wide, so this file has its own
 * emulator and runs one release at a time. Server errors are retried by Octokit (1 s, 4 s, 9 s):
 * a fault that outlasts the retries takes 14 s to fail.
 */

const emulator = useGitHub();

let signer: SshKey;
let age: AgeKey;
let repo: Repo;
const RUN = 9100;

beforeAll(async () => {
  [signer, age] = await Promise.all([sshKey(), ageKey()]);
  repo = await newRepo(emulator());
  await build(repo, { runId: RUN });
});

function releaseAgain() {
  return release(repo, {
    runId: RUN,
    inputs: {
      'signing-key': signer.privateKey,
      recipients: age.recipient,
      secrets: JSON.stringify({ DB_PASSWORD: 'pw-for-faults' }),
    },
  });
}

const OUTLASTS_RETRIES = 4;

const steps: [string, string, Fault, FaultOptions, RegExp][] = [
  [
    'creating the tag (a server error that outlasts the retries)',
    'git/create-ref',
    { kind: 'status', status: 502 },
    { times: OUTLASTS_RETRIES },
    /reserving the next release ID failed \(502 Bad Gateway\)/,
  ],
  [
    'creating the draft (a secondary rate limit longer than the action waits)',
    'repos/create-release',
    { kind: 'rate-limit', type: 'secondary', retryAfter: 3600 },
    { times: 1 },
    /creating the draft release failed \(403 You have exceeded a secondary rate limit/,
  ],
  [
    'uploading the bundle (the connection drops, every time)',
    'repos/upload-release-asset',
    { kind: 'reset' },
    { times: OUTLASTS_RETRIES },
    new RegExp(`uploading shop-${SHA_A}\\.tar\\.zst failed \\(500 .*(socket|closed|reset)`),
  ],
  [
    'uploading release.json (refused)',
    'repos/upload-release-asset',
    { kind: 'status', status: 422, message: 'Validation Failed' },
    { after: 1 },
    /uploading release\.json failed \(422 Validation Failed\)/,
  ],
  [
    'uploading release.json.sig (refused)',
    'repos/upload-release-asset',
    { kind: 'status', status: 400, message: 'Bad Content-Length' },
    { after: 2 },
    /uploading release\.json\.sig failed \(400 Bad Content-Length\)/,
  ],
  [
    'publishing (a server error that outlasts the retries)',
    'repos/update-release',
    { kind: 'status', status: 502 },
    { times: OUTLASTS_RETRIES },
    /publishing the release failed \(502 Bad Gateway\)/,
  ],
];

describe('a failure at each step leaves no draft and no tag, and the next attempt goes on', () => {
  for (const [what, target, fault, options, message] of steps) {
    it(what, async () => {
      const injected = emulator().faults.inject(target, fault, options);
      const result = await releaseAgain();
      expect(injected.hits).toBeGreaterThan(0);
      expect(result.code).toBe(1);
      expect(result.errors).toHaveLength(1);
      expect(result.errors[0]).toMatch(/^HttpError: No release of shop\/production made: /);
      expect(result.errors[0]).toMatch(message);
      expect(result.errors[0]).toMatch(/; nothing is left behind, run the job again$/);
      expectNothingReleased(emulator().state.repository(repo.name));
      if (target !== 'git/create-ref') {
        expect(result.log).toContain('removing its draft and the tag shop/production/v1');
      }
    });
  }

  it('and the release after them all is v1, whole, through a dropped bundle upload', async () => {
    const dropped = emulator().faults.inject('repos/upload-release-asset', { kind: 'reset' });
    const result = await releaseAgain();
    expect(dropped.hits).toBe(1);
    expect(result.errors).toEqual([]);
    expect(result.outputs).toMatchObject({ 'release-id': 'v1', 'previous-release-id': '' });
    const state = emulator().state.repository(repo.name);
    expect(state.tagCommits).toEqual({ 'shop/production/v1': repo.head });
    expect(state.releases).toHaveLength(1);
    expect(state.releases[0]).toMatchObject({ draft: false, immutable: true });
    const artifact = state.artifacts.find((entry) => entry.name === `shop-${SHA_A}.tar.zst`);
    expect(state.releases[0]?.assets.map((asset) => [asset.name, asset.digest])).toEqual([
      [`shop-${SHA_A}.tar.zst`, artifact?.digest],
      ['release.json', expect.stringMatching(/^sha256:/)],
      ['release.json.sig', expect.stringMatching(/^sha256:/)],
    ]);
    const { assets } = await downloadRelease(repo, 'shop/production/v1');
    expect(JSON.parse(assets['release.json']?.toString('utf8') ?? '{}')).toMatchObject({
      id: 'v1',
      previous: null,
    });
  });
});
