import { describe, expect, it } from 'vitest';
import { useGitHub } from '../emulator/vitest.js';
import { sshKey } from '../helpers/keys.js';
import { appTree, makeKeys, pack, publishRelease, withVar } from '../helpers/releases.js';
import {
  SHA_B,
  appWorkspace,
  build,
  newRepo,
  recordingProxy,
  release,
  released,
  sha256,
  startRelease,
  useReleaseSigner,
  type Repo,
} from './release-helpers.js';

/* The ledger: numbering, the hash chain, racing jobs, explicit IDs, previews. */

const emulator = useGitHub();

const keys = useReleaseSigner();

let nextRun = 7500;
const runId = () => nextRun++;

/** For a refused release: a check that the repository's releases and tags are as they were. */
function unchanged(repo: Repo): () => void {
  const before = emulator().state.repository(repo.name);
  return () => {
    const after = emulator().state.repository(repo.name);
    expect(after.releases).toEqual(before.releases);
    expect(after.tags).toEqual(before.tags);
  };
}

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
      ...keys.inputs(),
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
    expect(body).toContain('-f environment=production -f release-id=v1');
    expect(body).not.toMatch(/first-pass-1|second-pass-2/);
    expect(ledger[2]!.body).toContain('No config change since v2.');
    expect(ledger[2]!.body).toContain('release-id: v3');
  });

  it('gives two release jobs started at the same time different numbers and one chain', async () => {
    const repo = await newRepo(emulator());
    const run = runId();
    await build(repo, { runId: run });
    const jobs = await Promise.all([
      startRelease(repo, { runId: run, inputs: keys.inputs() }),
      startRelease(repo, { runId: run, inputs: keys.inputs() }),
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

  it('refuses an explicit release-id that exists, leaving that release untouched; a new one chains to the numbered ledger', async () => {
    const repo = await newRepo(emulator());
    const run = runId();
    await build(repo, { runId: run });
    const first = await release(repo, { runId: run, inputs: keys.inputs() });
    expect(first.errors).toEqual([]);
    const untouched = unchanged(repo);
    const again = await release(repo, {
      runId: run,
      inputs: { ...keys.inputs(), 'release-id': 'v1', vars: JSON.stringify({ PORT: '1' }) },
    });
    expect(again.code).toBe(1);
    expect(again.errors).toEqual([
      "Input 'release-id': release v1 of shop/production exists already; releases are never overwritten",
    ]);
    untouched();

    // An explicit ID follows the newest numbered release; the numbered ledger goes on without it.
    const hotfix = await release(repo, {
      runId: run,
      inputs: { ...keys.inputs(), 'release-id': 'hotfix-1' },
    });
    const next = await release(repo, { runId: run, inputs: keys.inputs() });
    expect([hotfix, next].map((result) => result.errors)).toEqual([[], []]);
    expect(
      [hotfix, next].map((result) => [
        result.outputs['release-id'],
        result.outputs['previous-release-id'],
      ]),
    ).toEqual([
      ['hotfix-1', 'v1'],
      ['v2', 'v1'],
    ]);
  });

  it('checks the signature of the release it chains to: after a key rotation, allowed-signers names the old key', async () => {
    const repo = await newRepo(emulator());
    const run = runId();
    await build(repo, { runId: run });
    expect((await release(repo, { runId: run, inputs: keys.inputs() })).errors).toEqual([]);
    const rotated = await sshKey('ed25519', 'rotated@example.com');
    const line = (key: { principal: string; publicKey: string }) =>
      `${key.principal} namespaces="build-release-run" ${key.publicKey}\n`;
    const untouched = unchanged(repo);

    // signing-key alone: v1, signed by the old key, is not chained to.
    const alone = await release(repo, {
      runId: run,
      inputs: { ...keys.inputs(), 'signing-key': rotated.privateKey },
    });
    expect(alone.code).toBe(1);
    expect(alone.errors).toEqual([
      expect.stringMatching(
        /^release shop\/production\/v1 is not trusted: release\.json\.sig: is made by a key that is not in allowed-signers; got ssh-ed25519 \S+; the new release would chain to it, so none was made; if signing-key was rotated, give the keys that signed earlier releases in allowed-signers$/,
      ),
    ]);
    // allowed-signers that would not trust the release this step makes: refused before any write.
    const untrusting = await release(repo, {
      runId: run,
      inputs: {
        ...keys.inputs(),
        'signing-key': rotated.privateKey,
        'allowed-signers': line(keys.signer),
      },
    });
    expect(untrusting.errors).toEqual([
      expect.stringMatching(
        /^Input 'allowed-signers': a release signed with signing-key: is made by a key that is not in allowed-signers; got ssh-ed25519 \S+; the next release would not chain to the one this step makes/,
      ),
    ]);
    untouched();

    const v2 = await release(repo, {
      runId: run,
      inputs: {
        ...keys.inputs(),
        'signing-key': rotated.privateKey,
        'allowed-signers': line(keys.signer) + line(rotated),
      },
    });
    expect(v2.errors).toEqual([]);
    expect(v2.outputs).toMatchObject({ 'release-id': 'v2', 'previous-release-id': 'v1' });
    expect(v2.log).toContain(
      `Chains to shop/production/v1: release.json signed by ${keys.signer.principal}`,
    );
    // The next one, with the new key alone, chains to v2 as before.
    const v3 = await release(repo, {
      runId: run,
      inputs: { ...keys.inputs(), 'signing-key': rotated.privateKey },
    });
    expect(v3.errors).toEqual([]);
    expect(v3.outputs['previous-release-id']).toBe('v2');
  });

  it('never chains to a release whose release.json is not what was signed', async () => {
    const repo = await newRepo(emulator());
    const run = runId();
    await build(repo, { runId: run });
    const forger = await makeKeys();
    await publishRelease(emulator(), {
      repository: repo.name,
      app: 'shop',
      environment: 'production',
      id: 'v1',
      sha: SHA_B,
      bundle: await pack(await appTree(), 'shop', SHA_B),
      keys: forger,
      tamper: { manifest: (bytes) => withVar(bytes, 'PORT', '1') },
    });
    const untouched = unchanged(repo);
    const refused = await release(repo, {
      runId: run,
      inputs: { ...keys.inputs(), 'allowed-signers': forger.allowedSigners },
    });
    expect(refused.code).toBe(1);
    expect(refused.errors).toEqual([
      expect.stringMatching(/^Input 'allowed-signers': a release signed with signing-key: /),
    ]);
    const trusting = await release(repo, {
      runId: run,
      inputs: {
        ...keys.inputs(),
        'allowed-signers': `${forger.allowedSigners}${keys.signer.principal} ${keys.signer.publicKey}\n`,
      },
    });
    expect(trusting.code).toBe(1);
    expect(trusting.errors).toEqual([
      'release shop/production/v1 is not trusted: release.json.sig: does not match the signed bytes; the file or its signature was changed; the new release would chain to it, so none was made',
    ]);
    untouched();
  });

  it('marks preview releases as prereleases and leaves "latest" alone unless make-latest', async () => {
    const repo = await newRepo(emulator());
    const run = runId();
    await build(repo, { runId: run });
    const proxy = await recordingProxy(emulator().apiUrl);
    try {
      const env = { GITHUB_API_URL: proxy.url };
      const [preview, production] = await Promise.all([
        release(repo, { runId: run, env, inputs: { ...keys.inputs(), environment: 'pr-12' } }),
        release(repo, { runId: run, env, inputs: keys.inputs() }),
      ]);
      const latest = await release(repo, {
        runId: run,
        env,
        inputs: { ...keys.inputs(), 'make-latest': 'true' },
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
