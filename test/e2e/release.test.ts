import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { factsFileName } from '../../shared/builds.js';
import { canonicalJson, parseManifest, type Manifest } from '../../shared/manifest.js';
import { useGitHub } from '../emulator/vitest.js';
import {
  ageDecrypt,
  ageKey,
  sshKey,
  sshVerify,
  type AgeKey,
  type SshKey,
} from '../helpers/keys.js';
import {
  SHA_A,
  SHA_B,
  appWorkspace,
  build,
  downloadRelease,
  expectNothingReleased,
  findLeaks,
  maskCommand,
  newRepo,
  recordingProxy,
  release,
  shownLog,
  startRelease,
  uploadArtifacts,
  type Repo,
} from './release-helpers.js';

const emulator = useGitHub();

let signer: SshKey;
let age: AgeKey;

beforeAll(async () => {
  [signer, age] = await Promise.all([sshKey(), ageKey()]);
});

/** The inputs every release needs: the signing key and the age recipient. */
function keys(): Record<string, string> {
  return { 'signing-key': signer.privateKey, recipients: age.recipient };
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

interface Released {
  manifest: Manifest;
  bytes: Buffer;
  signature: string;
  body: string;
  name: string;
  assets: Record<string, Buffer>;
}

async function released(repo: Repo, tag: string): Promise<Released> {
  const { release: found, assets } = await downloadRelease(repo, tag);
  const bytes = assets['release.json'];
  if (!bytes) throw new Error(`${tag} has no release.json`);
  return {
    manifest: parseManifest(bytes),
    bytes,
    signature: assets['release.json.sig']?.toString('utf8') ?? '',
    body: found.body,
    name: found.name,
    assets,
  };
}

let nextRun = 7000;
const runId = () => nextRun++;

describe.concurrent('release-action finds the build', () => {
  it('made in the same run, and publishes it draft-first as v1 with release.json and its signature', async () => {
    const repo = await newRepo(emulator());
    const run = runId();
    const built = await build(repo, { runId: run });
    const result = await release(repo, { runId: run, inputs: { ...keys() } });
    expect(result.errors).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.log).toContain(
      `Found the build of ${SHA_A} in this run: ${built.outputs.digest}`,
    );
    expect(result.outputs).toMatchObject({
      'release-id': 'v1',
      tag: 'shop/production/v1',
      'previous-release-id': '',
      changes: 'Initial release of aaaaaaa',
    });
    expect(result.outputs['release-url']).toMatch(/\/releases\/tag\/shop\/production\/v1$/);

    const state = emulator().state.repository(repo.name);
    expect(state.tags).toEqual({ 'shop/production/v1': SHA_A });
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
    expect(steps).toEqual([
      'git/create-ref',
      'repos/create-release',
      'repos/upload-release-asset',
      'repos/upload-release-asset',
      'repos/upload-release-asset',
      'repos/update-release',
    ]);

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
    expect(await sshVerify(signer, bytes, signature)).toContain(
      `Good "build-release-run" signature for ${signer.principal}`,
    );
    const tampered = Buffer.from(bytes);
    const at = tampered.length - 2;
    tampered.writeUInt8(tampered.readUInt8(at) ^ 1, at);
    await expect(sshVerify(signer, tampered, signature)).rejects.toThrow();
    expect(await readdir(path.join(path.dirname(result.workspace), 'runner-temp'))).toEqual([]);
  });

  it('made in an earlier run, through the REST API', async () => {
    const repo = await newRepo(emulator());
    const buildRun = runId();
    const built = await build(repo, { runId: buildRun, inputs: { compression: 'gzip' } });
    const result = await release(repo, { runId: runId(), inputs: keys() });
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
      inputs: keys(),
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
    const result = await release(repo, { runId: runId(), sha: SHA_B, inputs: keys() });
    expect(result.code).toBe(1);
    expect(result.errors).toEqual([
      `No build of shop at ${SHA_B} in this run, in earlier runs' artifacts, or in the cache: run build-action for this commit first`,
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
    const result = await release(repo, { runId: run, inputs: keys() });
    expect(result.code).toBe(1);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(
      new RegExp(
        `^The build of ${SHA_A} from this run does not match its recorded digest \\(${facts.digest}, got sha256:[0-9a-f]{64}\\); rebuild it$`,
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
      RELEASE_SIGNING_KEY: signer.privateKey,
      DEPLOY_SSH_KEY: deployKey.privateKey,
      AGE_IDENTITY: age.identity,
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
        ...keys(),
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
      ageDecrypt(age, manifest.config.secrets?.ciphertext ?? ''),
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
      release(repo, { inputs: { ...keys(), schema, vars: JSON.stringify({ PORT: '8080' }) } }),
      release(repo, {
        inputs: {
          ...keys(),
          schema,
          vars: JSON.stringify({ PORT: 'eighty' }),
          secrets: JSON.stringify({ DB_URL: 'postgres://u:hunter22@db/shop' }),
        },
      }),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.errors).toEqual(['config key DB_URL: is required by the schema']);
    expect(wrongType.code).toBe(1);
    expect(wrongType.errors).toEqual(['config key PORT: must be integer']);
    expect(shownLog(wrongType.log)).not.toContain('hunter22');
    expectNothingReleased(emulator().state.repository(repo.name));
  });
});

describe.concurrent('release-action ledger', () => {
  it('numbers releases v1, v2, v3 per environment, chained, with Heroku-style change summaries', async () => {
    const repo = await newRepo(emulator());
    const first = runId();
    const second = runId();
    await build(repo, { runId: first });
    await build(repo, {
      runId: second,
      sha: SHA_B,
      workspace: await appWorkspace({ 'app/server.js': 'console.log("v2")\n' }),
    });
    const config = (port: string, password: string) => ({
      ...keys(),
      vars: JSON.stringify({ PORT: port }),
      secrets: JSON.stringify({ DB_PASSWORD: password }),
    });

    const v1 = await release(repo, { runId: first, inputs: config('8080', 'first-pass-1') });
    const v2 = await release(repo, { runId: first, inputs: config('9090', 'second-pass-2') });
    const v3 = await release(repo, {
      runId: second,
      sha: SHA_B,
      inputs: config('9090', 'second-pass-2'),
    });
    const staging = await release(repo, {
      runId: second,
      sha: SHA_B,
      inputs: { ...config('1', 'staging-pass-3'), environment: 'staging' },
    });
    for (const result of [v1, v2, v3, staging]) expect(result.errors).toEqual([]);
    expect([v1, v2, v3].map((result) => result.outputs['release-id'])).toEqual(['v1', 'v2', 'v3']);
    expect([v1, v2, v3].map((result) => result.outputs['previous-release-id'])).toEqual([
      '',
      'v1',
      'v2',
    ]);
    expect(v1.outputs.changes).toBe('Initial release of aaaaaaa');
    expect(v2.outputs.changes).toBe('Config change DB_PASSWORD, PORT');
    expect(v3.outputs.changes).toBe('Deploy bbbbbbb');
    expect(staging.outputs).toMatchObject({
      'release-id': 'v1',
      tag: 'shop/staging/v1',
      'previous-release-id': '',
    });

    const ledger = await Promise.all(
      ['v1', 'v2', 'v3'].map((id) => released(repo, `shop/production/${id}`)),
    );
    expect(ledger.map((entry) => entry.manifest.previous)).toEqual([
      null,
      { id: 'v1', digest: sha256(ledger[0]!.bytes) },
      { id: 'v2', digest: sha256(ledger[1]!.bytes) },
    ]);

    const body = ledger[1]!.body;
    expect(body).toContain('**Config change DB_PASSWORD, PORT**');
    expect(body).toContain('~ DB_PASSWORD (secret) -> (secret)');
    expect(body).toContain('~ PORT "8080" -> "9090"');
    expect(body).toContain('release-id: v2');
    expect(body).toContain('`release-id: v1`');
    expect(body).not.toMatch(/first-pass-1|second-pass-2/);
    expect(ledger[2]!.body).toContain('No config change since v2.');
    expect(ledger[2]!.body).toContain('release-id: v3');
  });

  it('gives two release jobs started at the same time different numbers and one chain', async () => {
    const repo = await newRepo(emulator());
    const run = runId();
    await build(repo, { runId: run });
    const jobs = await Promise.all([
      startRelease(repo, { runId: run, inputs: keys() }),
      startRelease(repo, { runId: run, inputs: keys() }),
    ]);
    const results = await Promise.all(jobs.map((job) => job.result));
    for (const result of results) expect(result.errors).toEqual([]);
    expect(results.map((result) => result.outputs['release-id']).sort()).toEqual(['v1', 'v2']);
    const later = results.find((result) => result.outputs['release-id'] === 'v2');
    expect(later?.log).toMatch(/was taken by another release job|Waiting for the release job/);

    const state = emulator().state.repository(repo.name);
    expect(state.releases.map((entry) => [entry.tag, entry.draft])).toEqual(
      expect.arrayContaining([
        ['shop/production/v1', false],
        ['shop/production/v2', false],
      ]),
    );
    expect(state.releases).toHaveLength(2);
    const [v1, v2] = await Promise.all([
      released(repo, 'shop/production/v1'),
      released(repo, 'shop/production/v2'),
    ]);
    expect(v2.manifest.previous).toEqual({ id: 'v1', digest: sha256(v1.bytes) });
  });

  it('refuses an explicit release-id that exists, leaving that release untouched, and takes a new one', async () => {
    const repo = await newRepo(emulator());
    const run = runId();
    await build(repo, { runId: run });
    const first = await release(repo, { runId: run, inputs: keys() });
    expect(first.errors).toEqual([]);
    const before = emulator().state.repository(repo.name);
    const again = await release(repo, {
      runId: run,
      inputs: { ...keys(), 'release-id': 'v1', vars: JSON.stringify({ PORT: '1' }) },
    });
    expect(again.code).toBe(1);
    expect(again.errors).toEqual([
      "Input 'release-id': release v1 of shop/production exists already; releases are never overwritten",
    ]);
    const after = emulator().state.repository(repo.name);
    expect(after.releases).toEqual(before.releases);
    expect(after.tags).toEqual(before.tags);

    // A new explicit ID joins the chain, and numbering goes on after it.
    const hotfix = await release(repo, {
      runId: run,
      inputs: { ...keys(), 'release-id': 'hotfix-1' },
    });
    const next = await release(repo, { runId: run, inputs: keys() });
    expect([hotfix, next].map((result) => result.errors)).toEqual([[], []]);
    expect(
      [hotfix, next].map((result) => [
        result.outputs['release-id'],
        result.outputs['previous-release-id'],
      ]),
    ).toEqual([
      ['hotfix-1', 'v1'],
      ['v2', 'hotfix-1'],
    ]);
  });

  it('marks preview releases as prereleases and leaves "latest" alone unless make-latest', async () => {
    const repo = await newRepo(emulator());
    const run = runId();
    await build(repo, { runId: run });
    const proxy = await recordingProxy(emulator().apiUrl);
    try {
      const env = { GITHUB_API_URL: proxy.url };
      const [preview, production] = await Promise.all([
        release(repo, { runId: run, env, inputs: { ...keys(), environment: 'pr-12' } }),
        release(repo, { runId: run, env, inputs: keys() }),
      ]);
      const latest = await release(repo, {
        runId: run,
        env,
        inputs: { ...keys(), 'make-latest': 'true' },
      });
      for (const result of [preview, production, latest]) expect(result.errors).toEqual([]);
      const state = emulator().state.repository(repo.name);
      const prerelease = Object.fromEntries(state.releases.map((r) => [r.tag, r.prerelease]));
      expect(prerelease).toEqual({
        'shop/pr-12/v1': true,
        'shop/production/v1': false,
        'shop/production/v2': false,
      });
      const releaseWrites = proxy.requests
        .filter((request) => /\/releases(\/\d+)?$/.test(request.path) && request.method !== 'GET')
        .map((request) => {
          const body = request.body as { tag_name?: string; draft?: boolean; make_latest?: string };
          return [request.method, body.tag_name ?? '', body.draft, body.make_latest];
        });
      expect(releaseWrites).toEqual(
        expect.arrayContaining([
          ['POST', 'shop/pr-12/v1', true, 'false'],
          ['POST', 'shop/production/v1', true, 'false'],
          ['POST', 'shop/production/v2', true, 'false'],
        ]),
      );
      const publishes = releaseWrites.filter(([method]) => method === 'PATCH');
      expect(publishes.map((write) => write[3]).sort()).toEqual(['false', 'false', 'true']);
      expect(publishes.at(-1)).toEqual(['PATCH', '', false, 'true']);
    } finally {
      await proxy.close();
    }
  });
});

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
      () => ({ ...keys(), 'signing-key': undefined }),
      /^Input 'signing-key': is required$/,
    ],
    [
      'a signing key that is not Ed25519',
      async () => ({ ...keys(), 'signing-key': (await sshKey('ecdsa')).privateKey }),
      /^Input 'signing-key': expected an Ed25519 key, got an ECDSA key; make one with ssh-keygen -t ed25519$/,
    ],
    [
      'secrets without recipients',
      () => ({
        'signing-key': signer.privateKey,
        secrets: JSON.stringify({ DB_PASSWORD: 'pw-1234', github_token: 'ghs_1' }),
      }),
      /^Input 'recipients' is empty, but 1 secret\(s\) would be released \(DB_PASSWORD\)/,
    ],
    [
      'a recipient that is not an age key',
      () => ({ ...keys(), recipients: signer.publicKey }),
      /^Input 'recipients': line 1: SSH keys are not age recipients here; got "ssh-ed25519"; make one with age-keygen$/,
    ],
    [
      'vars that are not JSON',
      () => ({ ...keys(), vars: 'PORT=8080' }),
      /^Input 'vars': expected a JSON object like \$\{\{ toJSON\(vars\) \}\}$/,
    ],
    [
      'secrets that are not JSON, without quoting them',
      () => ({ ...keys(), secrets: '{"DB_PASSWORD": "s3cret-value-77"' }),
      /^Input 'secrets': expected a JSON object like \$\{\{ toJSON\(secrets\) \}\}$/,
    ],
    [
      'an unsafe environment name',
      () => ({ ...keys(), environment: 'prod/../x' }),
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
