import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { useGitHub } from '../emulator/vitest.js';
import {
  brr,
  emulatorEnv,
  replaceAsset,
  standardLedger,
  tempFile,
  type BrrRun,
  type StandardLedger,
} from '../helpers/brr.js';
import { emulatorClient, makeSigner, publishRelease, withVar } from '../helpers/releases.js';

/*
 * `brr verify` against ledgers that are whole, and against ledgers changed after the fact: a
 * replaced release.json, a link that records the wrong digest or skips a release, a deleted
 * release, a replaced bundle. Each names the first bad link and exits 1.
 */

const emulator = useGitHub();

interface Check {
  id: string;
  signature: string;
  signer: string | null;
  chain: string;
  previous: { id: string; digest: string } | null;
  bundle: string;
  problem: string | null;
}

interface Report {
  ok: boolean;
  firstBad: { id: string; problem: string } | null;
  releases: Check[];
  unpublished: string[];
  bundlesChecked: boolean;
}

async function verify(ledger: StandardLedger, args: string[], signers = ledger.allowedSigners) {
  const result = await brr(
    [
      'verify',
      'production',
      ...args,
      '--repo',
      ledger.repository,
      '--allowed-signers',
      signers,
      '--json',
    ],
    { env: emulatorEnv(emulator()) },
  );
  return { result, report: JSON.parse(result.stdout) as Report };
}

/** Exit 1, the report in JSON on stdout, and one line on stderr naming the first bad link. */
function expectBroken(result: BrrRun, ledger: StandardLedger, id: string, problem: RegExp): void {
  expect(result.code).toBe(1);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`ledger ${ledger.app}/production: the first bad link is ${id}: `);
  expect(lines[0]).toMatch(problem);
}

const ok = (id: string, previous: string | null, bundle = 'not checked') => ({
  id,
  signature: 'ok',
  signer: 'ci@example.com',
  chain: 'ok',
  previous:
    previous === null
      ? null
      : { id: previous, digest: expect.stringMatching(/^sha256:/) as string },
  bundle,
  problem: null,
});

describe.concurrent('brr verify, on a whole ledger', () => {
  it('checks the latest release and its link by default', async () => {
    const ledger = await standardLedger(emulator());
    const { result, report } = await verify(ledger, []);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(report).toMatchObject({ ok: true, firstBad: null, bundlesChecked: false });
    expect(report.releases).toEqual([expect.objectContaining(ok('v3', 'v2'))]);
  });

  it('--all --bundles checks every signature, link and bundle, oldest first', async () => {
    const ledger = await standardLedger(emulator());
    const { result, report } = await verify(ledger, ['--all', '--bundles']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(report.releases).toEqual([
      expect.objectContaining(ok('v1', null, 'ok')),
      expect.objectContaining(ok('v2', 'v1', 'ok')),
      expect.objectContaining(ok('v3', 'v2', 'ok')),
    ]);
  });

  it('refuses every release when the allowed signers do not hold the key that signed them', async () => {
    const ledger = await standardLedger(emulator());
    const stranger = await makeSigner('someone@example.com');
    const signers = await tempFile('allowed_signers', `${stranger.allowedSigner}\n`);
    const { result, report } = await verify(ledger, ['--all'], signers);
    expectBroken(result, ledger, 'v1', /v1 is not trusted: release\.json\.sig/);
    expect(report.releases.map((check) => [check.id, check.signature, check.chain])).toEqual([
      ['v1', 'failed', 'not checked'],
      ['v2', 'failed', 'not checked'],
      ['v3', 'failed', 'not checked'],
    ]);
  });
});

describe.concurrent('brr verify names the first bad link', () => {
  it('of a ledger whose release.json was replaced after the next release was made', async () => {
    const ledger = await standardLedger(emulator(), { immutableReleases: false });
    const v2 = ledger.releases[1]!;
    await replaceAsset(emulator(), {
      repository: ledger.repository,
      tag: v2.tag,
      name: 'release.json',
      bytes: withVar(v2.manifestBytes, 'PORT', '1'),
    });
    const { result, report } = await verify(ledger, ['--all']);
    expectBroken(result, ledger, 'v2', /release \S+\/v2 is not trusted: release\.json\.sig/);
    expect(report.ok).toBe(false);
    expect(report.firstBad?.id).toBe('v2');
    const [, second, third] = report.releases;
    expect(second).toMatchObject({ id: 'v2', signature: 'failed', chain: 'not checked' });
    expect(third).toMatchObject({ id: 'v3', signature: 'ok', chain: 'failed' });
    expect(third?.problem).toMatch(
      /records v2 as sha256:[0-9a-f]{64}, but v2's release\.json is sha256:/,
    );

    const single = await verify(ledger, ['v3']);
    expectBroken(single.result, ledger, 'v3', /v2 is not trusted/);
    expect(single.report.releases).toEqual([
      expect.objectContaining({ id: 'v3', signature: 'ok', chain: 'failed' }),
    ]);
  });

  it('of a signed release whose link records a digest its predecessor never had', async () => {
    const ledger = await standardLedger(emulator());
    const [, v2, v3] = ledger.releases;
    const forged = { ...v2!, manifestBytes: withVar(v2!.manifestBytes, 'PORT', '1') };
    await publishRelease(emulator(), {
      ...ledger,
      id: 'v4',
      sha: v3!.manifest.build.sha,
      bundle: v3!.bundle,
      previous: { ...forged, id: 'v3', manifest: v3!.manifest },
    });
    const { result, report } = await verify(ledger, ['--all']);
    expectBroken(
      result,
      ledger,
      'v4',
      /release \S+\/v4: records v3 as sha256:\S+, but v3's release\.json is sha256:\S+; v3 was changed after v4 was made/,
    );
    expect(report.releases.map((check) => [check.id, check.signature, check.chain])).toEqual([
      ['v1', 'ok', 'ok'],
      ['v2', 'ok', 'ok'],
      ['v3', 'ok', 'ok'],
      ['v4', 'ok', 'failed'],
    ]);
    const latest = await verify(ledger, []);
    expectBroken(latest.result, ledger, 'v4', /release \S+\/v4: records v3 as/);
  });

  it('of a release that names an older one than the release before it', async () => {
    const ledger = await standardLedger(emulator());
    const [, v2, v3] = ledger.releases;
    await publishRelease(emulator(), {
      ...ledger,
      id: 'v4',
      sha: v3!.manifest.build.sha,
      bundle: v3!.bundle,
      previous: v2,
    });
    const { result } = await verify(ledger, ['--all']);
    expectBroken(
      result,
      ledger,
      'v4',
      /names v2 as its previous release, but v3 comes before it; the ledger is broken/,
    );
  });

  it('of a release whose predecessor was deleted; its tag is passed over', async () => {
    const ledger = await standardLedger(emulator(), { immutableReleases: false });
    const [owner = '', repo = ''] = ledger.repository.split('/');
    const client = emulatorClient(emulator());
    const tag = ledger.releases[1]!.tag;
    const { data } = await client.rest.repos.getReleaseByTag({ owner, repo, tag });
    await client.rest.repos.deleteRelease({ owner, repo, release_id: data.id });

    const all = await verify(ledger, ['--all']);
    expectBroken(
      all.result,
      ledger,
      'v3',
      /names v2 as its previous release, but v1 comes before it; the ledger is broken/,
    );
    expect(all.report.unpublished).toEqual(['v2']);
    expect(all.report.releases.map((check) => check.id)).toEqual(['v1', 'v3']);
    const single = await verify(ledger, ['v3']);
    expectBroken(
      single.result,
      ledger,
      'v3',
      /names v2 as its previous release, but the ledger has no published release v2/,
    );
    const listed = await brr(['releases', 'production', '--repo', ledger.repository, '--json'], {
      env: emulatorEnv(emulator()),
    });
    expect((JSON.parse(listed.stdout) as { releases: unknown[] }).releases[1]).toEqual({
      id: 'v2',
      tag,
      published: false,
    });
  });

  it('of a release whose bundle was replaced, with --bundles only', async () => {
    const ledger = await standardLedger(emulator(), { immutableReleases: false });
    const [v1, v2] = ledger.releases;
    await replaceAsset(emulator(), {
      repository: ledger.repository,
      tag: v1!.tag,
      name: v1!.manifest.build.artifact.name,
      bytes: await readFile(v2!.bundle.file),
    });
    const without = await verify(ledger, ['v1']);
    expect(without.result.code).toBe(0);
    const { result, report } = await verify(ledger, ['v1', '--bundles']);
    expectBroken(
      result,
      ledger,
      'v1',
      /the bundle \S+: expected sha256:\S+ \(\d+ bytes\), as release\.json says, got (an asset of \d+ bytes|sha256:\S+ \(\d+ bytes\)); the asset was replaced or damaged/,
    );
    expect(report.releases).toEqual([
      expect.objectContaining({ id: 'v1', signature: 'ok', chain: 'ok', bundle: 'failed' }),
    ]);
  });
});
