import { beforeAll, expect, it } from 'vitest';
import { useGitHub } from '../emulator/vitest.js';
import { ageKey, sshKey, type AgeKey, type SshKey } from '../helpers/keys.js';
import {
  SHA_A,
  build,
  expectNothingReleased,
  newRepo,
  release,
  startRelease,
  type Repo,
  type StepOptions,
} from './release-helpers.js';

/*
 * The runner cancelling a release job: SIGINT, then SIGTERM, then a kill about 7.5 s after the
 * first. Faults are emulator-wide, so this file has its own emulator.
 */

const emulator = useGitHub();

let signer: SshKey;
let age: AgeKey;
let repo: Repo;
const RUN = 9200;
const TAG = 'shop/production/v1';
const BUNDLE = `shop-${SHA_A}.tar.zst`;

beforeAll(async () => {
  [signer, age] = await Promise.all([sshKey(), ageKey()]);
  repo = await newRepo(emulator());
  await build(repo, { runId: RUN });
});

function step(): StepOptions {
  return {
    runId: RUN,
    inputs: {
      'signing-key': signer.privateKey,
      recipients: age.recipient,
      secrets: JSON.stringify({ DB_PASSWORD: 'pw-for-cancel' }),
    },
  };
}

async function until(what: string, done: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it('a release cancelled mid-upload removes its draft and tag, and the next one is v1 at once', async () => {
  const hanging = emulator().faults.inject('repos/upload-release-asset', {
    kind: 'delay',
    ms: 30_000,
  });
  const started = await startRelease(repo, step());
  await until('the tag and draft, with the bundle upload under way', () => {
    const state = emulator().state.repository(repo.name);
    return (
      state.tagCommits[TAG] === repo.head &&
      state.releases.some((entry) => entry.draft) &&
      hanging.hits === 1
    );
  });

  const signalled = Date.now();
  started.child.kill('SIGINT');
  const cancelled = await started.result;
  const took = Date.now() - signalled;

  expect(took).toBeLessThan(5_000);
  expect(cancelled.code).toBe(1);
  expect(cancelled.signal).toBeNull();
  expect(cancelled.log).toContain(
    `Release not published (cancelled while uploading ${BUNDLE}): removing its draft and the tag ${TAG}`,
  );
  expect(cancelled.errors).toEqual([
    `Cancelled: No release of shop/production made: the job was cancelled (SIGINT) while uploading ${BUNDLE}; nothing is left behind`,
  ]);
  expect(cancelled.outputs).toEqual({});
  expectNothingReleased(emulator().state.repository(repo.name));

  const next = await release(repo, step());
  expect(next.errors).toEqual([]);
  expect(next.outputs).toMatchObject({ 'release-id': 'v1', tag: TAG, 'previous-release-id': '' });
  expect(next.log).not.toContain('Waiting for the release job');
  const state = emulator().state.repository(repo.name);
  expect(state.tagCommits).toEqual({ [TAG]: repo.head });
  expect(state.releases).toHaveLength(1);
  expect(state.releases[0]).toMatchObject({ draft: false, tag: TAG });
});
