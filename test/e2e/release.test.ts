import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { factsFileName } from '../../shared/builds.js';
import { canonicalJson } from '../../shared/manifest.js';
import { useGitHub } from '../emulator/vitest.js';
import { CLIENT_CHATTER, ungroupedLines } from '../helpers/action.js';
import { ageDecrypt, sshKey, sshVerify } from '../helpers/keys.js';
import {
  SHA_A,
  SHA_B,
  appWorkspace,
  build,
  expectNothingReleased,
  findLeaks,
  released,
  sha256,
  maskCommand,
  newRepo,
  release,
  shownLog,
  uploadArtifacts,
  RELEASE_WRITES,
  useReleaseSigner,
} from './release-helpers.js';

const emulator = useGitHub();

const keys = useReleaseSigner();

let nextRun = 7000;
const runId = () => nextRun++;

describe.concurrent('release-action finds the build', () => {
  it('made in the same run, and publishes it draft-first as v1 with release.json and its signature', async () => {
    const repo = await newRepo(emulator());
    const run = runId();
    const built = await build(repo, { runId: run });
    const result = await release(repo, {
      runId: run,
      inputs: { ...keys.inputs() },
      // As the runner sets them for `uses: acme/build-release-run/release-action@v1`.
      env: { GITHUB_ACTION_REPOSITORY: 'acme/build-release-run', GITHUB_ACTION_REF: 'v1' },
    });
    expect(result.errors).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.log).toContain(
      `Found the build of ${SHA_A} in this run: ${built.outputs.digest}`,
    );
    // Its body links the build's commit and names run-action as this workflow named the action.
    const { body } = await released(repo, 'shop/production/v1');
    expect(body).toContain(`[\`${SHA_A}\`](${repo.github.serverUrl}/${repo.name}/commit/${SHA_A})`);
    expect(body).toContain('- uses: acme/build-release-run/run-action@v1\n');
    expect(body).toContain(
      `${repo.github.serverUrl}/acme/build-release-run/blob/v1/docs/verify-by-hand.md`,
    );
    // The artifact client's lines are folded into a group of their own.
    expect(result.log).toContain(`::group::Finding the build of ${SHA_A}\n`);
    expect(result.log).toMatch(CLIENT_CHATTER);
    expect(ungroupedLines(result.log).filter((line) => CLIENT_CHATTER.test(line))).toEqual([]);
    expect(result.outputs).toMatchObject({
      'release-id': 'v1',
      tag: 'shop/production/v1',
      'previous-release-id': '',
      changes: 'Initial release of aaaaaaa',
    });
    expect(result.outputs['release-url']).toMatch(/\/releases\/tag\/shop\/production\/v1$/);

    // The tag marks the release's place in the ledger at the default branch's head, never at
    // the build's commit (which the Actions token may not be allowed to tag); release.json and
    // the body name the build.
    const state = emulator().state.repository(repo.name);
    expect(state.tagCommits).toEqual({ 'shop/production/v1': repo.head });
    expect(state.releases).toHaveLength(1);
    const [published] = state.releases;
    expect(published).toMatchObject({ draft: false, immutable: true, prerelease: false });
    const bundleName = `shop-${SHA_A}.tar.zst`;
    expect(published?.assets.map((asset) => asset.name)).toEqual([
      bundleName,
      'release.json',
      'release.json.sig',
    ]);
    expect(published?.assets[0]).toMatchObject({
      digest: built.outputs.digest,
      size: Number(built.outputs.size),
    });

    // Draft first, then the three assets, then publish: nothing is public until it is whole.
    const steps = emulator()
      .requests()
      .filter(
        (request) => request.path.startsWith(`/repos/${repo.name}/`) && request.method !== 'GET',
      )
      .map((request) => request.operation);
    expect(steps).toEqual(RELEASE_WRITES);

    const { manifest, bytes, signature } = await released(repo, 'shop/production/v1');
    expect(bytes.toString('utf8')).toBe(canonicalJson(JSON.parse(bytes.toString('utf8'))));
    expect(sha256(bytes)).toBe(result.outputs['manifest-digest']);
    expect(manifest).toMatchObject({
      schemaVersion: 1,
      app: 'shop',
      environment: 'production',
      id: 'v1',
      actor: 'octocat',
      run: { id: run, attempt: 1 },
      build: {
        sha: SHA_A,
        digest: built.outputs.digest,
        size: Number(built.outputs.size),
        compression: 'zstd',
        artifact: { id: Number(built.outputs['artifact-id']), name: bundleName },
      },
      config: { vars: {}, secrets: null },
      previous: null,
      changes: 'Initial release of aaaaaaa',
    });
    expect(await sshVerify(keys.signer, bytes, signature)).toContain(
      `Good "build-release-run" signature for ${keys.signer.principal}`,
    );
    const tampered = Buffer.from(bytes);
    const at = tampered.length - 2;
    tampered.writeUInt8(tampered.readUInt8(at) ^ 1, at);
    await expect(sshVerify(keys.signer, tampered, signature)).rejects.toThrow();
    expect(await readdir(path.join(path.dirname(result.workspace), 'runner-temp'))).toEqual([]);
  });

  it('made in an earlier run, through the REST API', async () => {
    const repo = await newRepo(emulator());
    const buildRun = runId();
    const built = await build(repo, { runId: buildRun, inputs: { compression: 'gzip' } });
    const result = await release(repo, { runId: runId(), inputs: keys.inputs() });
    expect(result.errors).toEqual([]);
    expect(result.log).toContain(
      `Found the build of ${SHA_A} in run ${buildRun}: ${built.outputs.digest}`,
    );
    const state = emulator().state.repository(repo.name);
    expect(state.releases[0]?.assets[0]).toMatchObject({
      name: `shop-${SHA_A}.tar.gz`,
      digest: built.outputs.digest,
    });
    expect(result.summary).toContain(`Build found in run ${buildRun}.`);
  });

  it('in the cache when its artifacts are gone', async () => {
    const repo = await newRepo(emulator());
    const built = await build(repo, { runId: runId() });
    for (const artifact of emulator().state.repository(repo.name).artifacts) {
      const response = await fetch(
        `${emulator().apiUrl}/repos/${repo.name}/actions/artifacts/${artifact.id}`,
        { method: 'DELETE', headers: { authorization: `Bearer ${emulator().token}` } },
      );
      expect(response.status).toBe(204);
    }
    // @actions/cache stores paths relative to the workspace, which sits at the same place in
    // every job on a real runner; here, at the same depth under the temporary directory.
    const result = await release(repo, {
      runId: runId(),
      workspace: await appWorkspace(),
      inputs: keys.inputs(),
    });
    expect(result.errors).toEqual([]);
    expect(result.log).toContain(`Found the build of ${SHA_A} in cache: ${built.outputs.digest}`);
    expect(emulator().state.repository(repo.name).releases[0]?.assets[0]?.digest).toBe(
      built.outputs.digest,
    );
    // The restored copy is gone with the job's other scratch files.
    await expect(
      stat(path.join(repo.home, '.cache', 'build-release-run', `shop-${SHA_A}`)),
    ).rejects.toThrow();
  });

  it('or refuses, creating nothing, when the SHA has no build', async () => {
    const repo = await newRepo(emulator());
    await build(repo, { runId: runId() });
    const result = await release(repo, { runId: runId(), sha: SHA_B, inputs: keys.inputs() });
    expect(result.code).toBe(1);
    expect(result.errors).toEqual([
      `Input 'sha': no build of shop at ${SHA_B} in this run's artifacts, earlier runs' artifacts of this repository, the cache, earlier releases of the environment; run build-action for this commit first`,
    ]);
    expectNothingReleased(emulator().state.repository(repo.name));
  });

  it('or refuses, creating nothing, when the bundle does not match its recorded digest', async () => {
    const repo = await newRepo(emulator());
    const run = runId();
    const bundleName = `shop-${SHA_A}.tar.zst`;
    const facts = {
      app: 'shop',
      sha: SHA_A,
      ref: 'refs/heads/main',
      runId: run,
      runAttempt: 1,
      digest: sha256(Buffer.from('the bundle that was built')),
      size: 25,
      files: 1,
      compression: 'zstd',
      created: '2025-01-01T00:00:00Z',
      artifact: { id: 1, name: bundleName },
    };
    await uploadArtifacts(repo, run, {
      [bundleName]: 'a bundle swapped in later',
      [factsFileName('shop', SHA_A)]: JSON.stringify(facts),
    });
    const result = await release(repo, { runId: run, inputs: keys.inputs() });
    expect(result.code).toBe(1);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(
      new RegExp(
        `^the build of ${SHA_A} from this run: does not match its recorded digest; expected ${facts.digest}, got sha256:[0-9a-f]{64}; rebuild it$`,
      ),
    );
    expectNothingReleased(emulator().state.repository(repo.name));
  });
});

describe.concurrent('release-action config', () => {
  it('merges vars, config lines and secrets with include/exclude; never the token or a key', async () => {
    const repo = await newRepo(emulator());
    const deployKey = await sshKey('ed25519', 'deploy@example.com');
    const secrets = {
      DB_PASSWORD: 'pa55-W0rd!"q',
      API_TOKEN: 'tok_9f8e7d6c5b4a',
      MULTI_LINE: 'first secret line\nsecond secret line',
      UNRELATED_SECRET: 'not-for-this-app-42',
      github_token: 'ghs_workflowtoken0123456789',
      RELEASE_SIGNING_KEY: keys.signer.privateKey,
      DEPLOY_SSH_KEY: deployKey.privateKey,
      AGE_IDENTITY: keys.age.identity,
    };
    const workspace = await appWorkspace({
      'config.schema.json': JSON.stringify({
        type: 'object',
        required: ['PORT', 'DB_PASSWORD', 'API_TOKEN'],
        properties: { PORT: { type: 'integer' } },
      }),
    });
    const run = runId();
    await build(repo, { runId: run });
    const result = await release(repo, {
      runId: run,
      workspace,
      inputs: {
        ...keys.inputs(),
        vars: JSON.stringify({
          PORT: '8080',
          LOG_LEVEL: 'info',
          INTERNAL_NOTE: 'x',
          DB_PASSWORD: 'a plain value a secret replaces',
        }),
        config: '# extra\nFEATURE_X=on\nPORT=9090',
        secrets: JSON.stringify(secrets),
        include: 'PORT\nLOG_*\nDB_*\n*_TOKEN\nMULTI_*\nINTERNAL_*\n*_KEY\nAGE_*',
        exclude: 'INTERNAL_*',
        schema: 'config.schema.json',
      },
    });
    expect(result.errors).toEqual([]);
    expect(result.code).toBe(0);
    const { manifest, assets, body, name } = await released(repo, result.outputs.tag ?? '');
    expect(manifest.config.vars).toEqual({ FEATURE_X: 'on', LOG_LEVEL: 'info', PORT: '9090' });
    expect(manifest.config.secrets?.names).toEqual(['API_TOKEN', 'DB_PASSWORD', 'MULTI_LINE']);
    expect(result.log).toContain(
      'Left out: AGE_IDENTITY, DEPLOY_SSH_KEY (private keys for other steps, never released)',
    );

    // A host decrypts with the age CLI alone and finds every released value.
    const decrypted = JSON.parse(
      ageDecrypt(keys.age, manifest.config.secrets?.ciphertext ?? ''),
    ) as unknown;
    expect(decrypted).toEqual({
      API_TOKEN: secrets.API_TOKEN,
      DB_PASSWORD: secrets.DB_PASSWORD,
      MULTI_LINE: secrets.MULTI_LINE,
    });

    // Every value was masked for the runner, and none shows anywhere a person or a host reads.
    for (const value of Object.values(secrets)) expect(result.log).toContain(maskCommand(value));
    const leaks = findLeaks(secrets, {
      log: shownLog(result.log),
      outputs: JSON.stringify(result.outputs),
      summary: result.summary,
      'release body': body,
      'release name': name,
      ...assets,
    });
    expect(leaks).toEqual([]);
    expect(Object.keys(assets)).toHaveLength(3);
    expect(body).toContain('`API_TOKEN`, `DB_PASSWORD`, `MULTI_LINE`');
  });

  it('publishes a config change too long for GitHub’s release notes, its notes summarised', async () => {
    const repo = await newRepo(emulator());
    const run = runId();
    await build(repo, { runId: run });
    // 1,500 values of 60 characters, every one changed: the full diff is over 200,000 characters.
    const vars = (digit: number) =>
      JSON.stringify(
        Object.fromEntries(
          Array.from({ length: 1500 }, (_, i) => [`KEY_${i}`, `${digit}`.repeat(60)]),
        ),
      );
    const v1 = await release(repo, { runId: run, inputs: { ...keys.inputs(), vars: vars(1) } });
    const v2 = await release(repo, { runId: run, inputs: { ...keys.inputs(), vars: vars(2) } });
    expect([v1.errors, v2.errors]).toEqual([[], []]);
    const { body } = await released(repo, 'shop/production/v2');
    expect(body.length).toBeLessThanOrEqual(125_000);
    expect(body).toContain('Too long to show here: the values are in release.json.');
  });

  it('checks the merged config against schema and names the key that fails it', async () => {
    const repo = await newRepo(emulator());
    await build(repo, { runId: runId() });
    const schema = JSON.stringify({
      type: 'object',
      required: ['PORT', 'DB_URL'],
      properties: {
        PORT: { type: 'integer' },
        DB_URL: { type: 'string', pattern: '^postgres://' },
      },
    });
    const [missing, wrongType] = await Promise.all([
      release(repo, {
        inputs: { ...keys.inputs(), schema, vars: JSON.stringify({ PORT: '8080' }) },
      }),
      release(repo, {
        inputs: {
          ...keys.inputs(),
          schema,
          vars: JSON.stringify({ PORT: 'eighty' }),
          secrets: JSON.stringify({ DB_URL: 'postgres://u:hunter22@db/shop' }),
        },
      }),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.errors).toEqual([
      "Input 'schema': config key DB_URL: is required by the schema",
    ]);
    expect(wrongType.code).toBe(1);
    expect(wrongType.errors).toEqual(["Input 'schema': config key PORT: must be integer"]);
    expect(shownLog(wrongType.log)).not.toContain('hunter22');
    expectNothingReleased(emulator().state.repository(repo.name));
  });
});
