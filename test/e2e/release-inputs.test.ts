import { beforeAll, describe, expect, it } from 'vitest';
import { factsFileName } from '../../shared/builds.js';
import { useGitHub } from '../emulator/vitest.js';
import { sshKey } from '../helpers/keys.js';
import {
  SHA_A,
  build,
  expectNothingReleased,
  newRepo,
  release,
  sha256,
  shownLog,
  uploadArtifacts,
  type Repo,
  useReleaseSigner,
} from './release-helpers.js';

/* Bad input, a bad token, a bundle GitHub could not take: one line, and nothing made. */

const emulator = useGitHub();

const keys = useReleaseSigner();

let nextRun = 7800;
const runId = () => nextRun++;

describe.concurrent('release-action refuses bad input with one line and creates nothing', () => {
  let repo: Repo;
  let run: number;
  beforeAll(async () => {
    repo = await newRepo(emulator());
    run = runId();
    await build(repo, { runId: run });
  });

  type Inputs = Record<string, string | undefined>;
  const cases: [string, () => Inputs | Promise<Inputs>, RegExp][] = [
    [
      'a missing signing-key',
      () => ({ ...keys.inputs(), 'signing-key': undefined }),
      /^Input 'signing-key': is required$/,
    ],
    [
      'a signing key that is not Ed25519',
      async () => ({ ...keys.inputs(), 'signing-key': (await sshKey('ecdsa')).privateKey }),
      /^Input 'signing-key': (signing-key: )?expected an Ed25519 key, got an ECDSA key; make one with ssh-keygen -t ed25519$/,
    ],
    [
      'secrets without recipients',
      () => ({
        'signing-key': keys.signer.privateKey,
        secrets: JSON.stringify({ DB_PASSWORD: 'pw-1234', github_token: 'ghs_1' }),
      }),
      /^Input 'recipients': is empty, but 1 secret\(s\) would be released \(DB_PASSWORD\)/,
    ],
    [
      'a recipient that is not an age key',
      () => ({ ...keys.inputs(), recipients: keys.signer.publicKey }),
      /^Input 'recipients': line 1: SSH keys are not age recipients here; got "ssh-ed25519"; make one with age-keygen$/,
    ],
    [
      'vars that are not JSON',
      () => ({ ...keys.inputs(), vars: 'PORT=8080' }),
      /^Input 'vars': expected a JSON object like \$\{\{ toJSON\(vars\) \}\}$/,
    ],
    [
      'secrets that are not JSON, without quoting them',
      () => ({ ...keys.inputs(), secrets: '{"DB_PASSWORD": "s3cret-value-77"' }),
      /^Input 'secrets': expected a JSON object like \$\{\{ toJSON\(secrets\) \}\}$/,
    ],
    [
      'an unsafe environment name',
      () => ({ ...keys.inputs(), environment: 'prod/../x' }),
      /^Input 'environment': expected an environment name/,
    ],
  ];
  for (const [what, inputs, message] of cases) {
    it(what, async () => {
      const result = await release(repo, { runId: run, inputs: await inputs() });
      expect(result.code).toBe(1);
      expect(result.errors).toHaveLength(1);
      expect(result.errors[0]).toMatch(message);
      expect(shownLog(result.log)).not.toMatch(/s3cret-value-77|pw-1234|PRIVATE KEY-----\n/);
      expectNothingReleased(emulator().state.repository(repo.name));
    });
  }
});

describe('release-action refuses a token or a build GitHub would not take', () => {
  it('a token GitHub does not accept: one line naming the input', async () => {
    const repo = await newRepo(emulator());
    const run = runId();
    await build(repo, { runId: run });
    const result = await release(repo, {
      runId: run,
      inputs: { ...keys.inputs(), token: 'ghs_not-a-token-of-this-job' },
    });
    expect(result.code).toBe(1);
    expect(result.errors).toEqual([
      "Input 'token': GitHub did not accept it while reading the ledger (401); expected a valid GitHub token, such as the default ${{ github.token }}, got Bad credentials",
    ]);
    expectNothingReleased(emulator().state.repository(repo.name));
  });

  it('a bundle of 2 GiB or more: refused before it is downloaded, tagged or drafted', async () => {
    const repo = await newRepo(emulator());
    const run = runId();
    const name = `shop-${SHA_A}.tar.zst`;
    const facts = {
      app: 'shop',
      sha: SHA_A,
      ref: 'refs/heads/main',
      runId: run,
      runAttempt: 1,
      digest: sha256(Buffer.from('stands for 2 GiB')),
      size: 2 ** 31,
      files: 1,
      compression: 'zstd',
      created: '2025-01-01T00:00:00Z',
      artifact: { id: 1, name },
    };
    await uploadArtifacts(repo, run, {
      [name]: 'stands for 2 GiB',
      [factsFileName('shop', SHA_A)]: JSON.stringify(facts),
    });
    const downloads = () =>
      emulator()
        .requests()
        .filter((request) => request.operation === 'ArtifactService/GetSignedArtifactURL').length;
    const before = downloads();
    const result = await release(repo, { runId: run, inputs: keys.inputs() });
    expect(result.code).toBe(1);
    expect(result.errors).toEqual([
      `the build of ${SHA_A} from this run: the bundle is 2147483648 bytes; GitHub release assets must be under 2 GiB (2147483648 bytes); leave out what the app does not need at run time (build-action's path), or use zstd`,
    ]);
    expect(downloads() - before).toBe(1);
    expectNothingReleased(emulator().state.repository(repo.name));
  });
});
