import { readFile, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { startGitHub } from '../emulator/index.js';
import { useGitHub } from '../emulator/vitest.js';
import { brr, emulatorEnv, type BrrRun } from '../helpers/brr.js';
import {
  currentOn,
  deploy,
  HEALTH_CHECK,
  historyOn,
  hostArgs,
  newSite,
  release,
  RESTART,
  rootOn,
  runningOn,
  useLab,
  withDownHost,
  type HostLab,
  type Site,
} from '../helpers/brr-hosts.js';
import { exists } from '../helpers/files.js';
import { emulatorClient, withVar } from '../helpers/releases.js';
import type { TestHost } from '../hosts/sshd.js';

/*
 * brr rollback, the break-glass path, against real sshd hosts deployed to by run-action: back to
 * `previous` or an ID already on the hosts, with run-action's engine and lock, recorded as a
 * GitHub Deployment; with GitHub down (the emulator stopped), on the hosts' signed copies alone.
 */

const emulator = useGitHub();
const useHosts = useLab(2);
let lab: HostLab;
let hosts: TestHost[];

/** What the hosts' lock and history say of a rollback made from this machine. */
const WHO = `brr ${userInfo().username}@${hostname()}`;

beforeAll(() => {
  lab = useHosts();
  hosts = lab.hosts;
});

function rollback(site: Site, args: string[], env = emulatorEnv(site.github)): Promise<BrrRun> {
  return brr(
    [
      'rollback',
      'production',
      ...args,
      ...hostArgs(site),
      '--allowed-signers',
      lab.allowedSignersFile,
      '--restart',
      RESTART,
      '--health-check',
      HEALTH_CHECK,
      '--health-timeout',
      '1',
    ],
    { env },
  );
}

/** A site with v1 and v2 published and deployed to every host: it runs v2. */
async function onV2(github = emulator()): Promise<Site> {
  const site = newSite(github, lab);
  await release(site);
  await release(site);
  await deploy(site, hosts, 'v1');
  await deploy(site, hosts, 'v2');
  return site;
}

async function expectUnchanged(site: Site, current: string): Promise<void> {
  for (const h of hosts) {
    expect(await currentOn(h, site)).toBe(current);
    expect((await historyOn(h, site)).at(-1)).toMatchObject({
      event: 'activated',
      release: current,
    });
    expect(await exists(path.join(rootOn(h, site), '.deploy/lock'))).toBe(false);
  }
}

/** Every host runs `id` again: switched, restarted with its .env, recorded as brr's rollback. */
async function expectRolledBack(site: Site, id: string, from: string): Promise<void> {
  for (const h of hosts) {
    expect(await currentOn(h, site)).toBe(id);
    expect(await runningOn(h, site)).toBe(`hello from ${id}`);
    expect((await historyOn(h, site)).at(-1)).toMatchObject({
      event: 'rolled-back',
      release: id,
      from,
      by: WHO,
    });
  }
}

function expectOneLine(result: BrrRun, line: RegExp | string): void {
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  if (typeof line === 'string') expect(result.stderr.trimEnd()).toBe(line);
  else expect(result.stderr.trimEnd()).toMatch(line);
  expect(result.code).toBe(1);
}

describe('brr rollback with GitHub reachable', () => {
  it('goes back to previous on every host, records who in the history and a Deployment', async () => {
    const site = await onV2();
    const result = await rollback(site, ['--json']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const report = JSON.parse(result.stdout) as Record<string, unknown>;
    const v1 = site.releases[0]!;
    expect(report).toMatchObject({
      app: 'shop',
      environment: 'production',
      release: {
        id: 'v1',
        build: { sha: v1.manifest.build.sha, digest: v1.manifest.build.digest },
        signer: 'ci@example.com',
        checkedAgainst: 'ledger',
      },
      github: 'reachable',
      ok: true,
      headline: 'rolled back on 2 hosts',
      split: false,
      hosts: hosts.map((h) => ({
        host: h.hostLine,
        before: 'v2',
        after: 'v1',
        result: 'rolled-back',
        problem: null,
      })),
    });

    // The restart ran in v1, with v1's .env.
    await expectRolledBack(site, 'v1', 'v2');

    const deployments = site.github.state.repository(site.repository).deployments;
    const recorded = deployments.at(-1)!;
    expect(deployments).toHaveLength(3);
    expect(String(recorded.id)).toBe(String(report.deployment));
    expect(recorded).toMatchObject({
      environment: 'production',
      payload: { app: 'shop', release: 'v1', rollback: true },
    });
    const [owner = '', repo = ''] = site.repository.split('/');
    const { data } = await emulatorClient(site.github).rest.repos.getDeployment({
      owner,
      repo,
      deployment_id: recorded.id,
    });
    expect(data.description).toMatch(/^Roll back to v1 with brr \(/);
    expect(data.description).toContain(WHO.slice('brr '.length));
    expect(recorded.statuses.map((s) => s.state)).toEqual(['in_progress', 'success']);
  });

  it('goes back to an explicit ID still on the hosts, and prints a table on a terminal', async () => {
    const site = await onV2();
    await release(site);
    await deploy(site, hosts, 'v3');
    const result = await brr(
      [
        'rollback',
        'production',
        'v1',
        ...hostArgs(site),
        '--allowed-signers',
        lab.allowedSignersFile,
        '--restart',
        RESTART,
        '--parallel',
        '2',
        '--no-deployment',
      ],
      { env: { ...emulatorEnv(site.github), NO_COLOR: '1' }, tty: true },
    );
    expect(result.code).toBe(0);
    const lines = result.stdout.split(/\r?\n/);
    expect(lines[0]).toMatch(/^HOST +BEFORE +AFTER +RESULT +SECONDS$/);
    expect(lines[1]).toMatch(new RegExp(`^${hosts[0]!.hostLine} +v3 +v1 +rolled-back +[0-9.]+$`));
    expect(result.stdout).toContain(
      'shop/production v1: rolled back on 2 hosts; release.json signed by ci@example.com, checked against the ledger.',
    );
    // --no-deployment: the three deploys' Deployments, and none for the rollback.
    expect(site.github.state.repository(site.repository).deployments).toHaveLength(3);
    await expectRolledBack(site, 'v1', 'v3');
  });

  it('refuses a release that is not on the hosts, naming the deploy that brings it there', async () => {
    const site = await onV2();
    await release(site);
    const result = await rollback(site, ['v3']);
    expect(result.stdout).toBe('');
    const [a, b] = hosts.map((h) => `${h.hostLine} (releases there: v1, v2)`);
    expectOneLine(
      result,
      `release shop/production/v3: is not on the hosts: not on ${a}; ${b}; deploy it first, from GitHub Actions: gh workflow run rollback.yml -f environment=production -f release-id=v3 (run-action uploads a release the hosts do not hold)`,
    );
    await expectUnchanged(site, 'v2');
    expect(site.github.state.repository(site.repository).deployments).toHaveLength(2);
  });

  it('puts back the hosts it switched when one fails, as run-action does', async () => {
    const site = await onV2();
    // The second host's v1 does not come up.
    await writeFile(path.join(rootOn(hosts[1]!, site), 'FAIL-v1'), '');
    const result = await rollback(site, ['--json']);
    expect(result.code).toBe(1);
    const failed = `host ${hosts[1]!.hostLine}: v1: health check failed for 0 s (1 attempts); switched back to v2 and restarted it`;
    // One line: what runs where now, then what failed.
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      `Rolling back to v1 failed on ${hosts[1]!.hostLine}, the hosts are back on v2: ${failed}`,
    ]);
    const report = JSON.parse(result.stdout) as { ok: boolean; hosts: unknown[] };
    expect(report.ok).toBe(false);
    expect(report.hosts).toMatchObject([
      { before: 'v2', after: 'v2', result: 'put-back' },
      { before: 'v2', after: 'v2', result: 'failed-rolled-back' },
    ]);
    for (const h of hosts) {
      expect(await currentOn(h, site)).toBe('v2');
      expect(await runningOn(h, site)).toBe('hello from v2');
    }
    const recorded = site.github.state.repository(site.repository).deployments.at(-1)!;
    expect(recorded.payload).toMatchObject({ release: 'v1', rollback: true });
    expect(recorded.statuses.map((s) => s.state)).toEqual(['in_progress', 'failure']);
  });

  it('stops at a token GitHub refuses, and at a host it cannot reach, changing nothing', async () => {
    const site = await onV2();
    const badToken = await rollback(site, [], {
      ...emulatorEnv(site.github),
      GITHUB_TOKEN: 'ghp_not-a-token',
    });
    expect(badToken.stdout).toBe('');
    expectOneLine(
      badToken,
      `Input 'GITHUB_TOKEN': GitHub (${site.github.apiUrl}) refused this token: 401 Bad credentials; give a valid token: --token, GITHUB_TOKEN, or gh auth login`,
    );
    await expectUnchanged(site, 'v2');

    const { args, down } = await withDownHost(site);
    const unreachable = await brr(
      [
        'rollback',
        'production',
        ...args,
        '--allowed-signers',
        lab.allowedSignersFile,
        '--restart',
        RESTART,
      ],
      { env: emulatorEnv(site.github) },
    );
    expect(unreachable.stdout).toBe('');
    expectOneLine(unreachable, `host ${down}: unreachable (ECONNREFUSED)`);
    await expectUnchanged(site, 'v2');
    expect(site.github.state.repository(site.repository).deployments).toHaveLength(2);
  });
});

describe('brr rollback with GitHub unreachable', () => {
  it("trusts the hosts' signed copies, says so in one warning, and records no Deployment", async () => {
    const github = await startGitHub();
    let site: Site;
    try {
      site = await onV2(github);
      expect(github.violations()).toEqual([]);
    } finally {
      await github.stop();
    }
    const env = emulatorEnv(github);

    // A host copy changed after it was signed: refused, nothing changes.
    const copy = path.join(rootOn(hosts[1]!, site), 'releases/v1/.release/release.json');
    const signed = await readFile(copy);
    await writeFile(copy, withVar(signed, 'GREETING', 'hello from someone else'));
    const tampered = await rollback(site, ['--json'], env);
    expect(tampered.stdout).toBe('');
    const [warning, error] = tampered.stderr.trimEnd().split('\n');
    expect(warning).toMatch(
      /^warning: GitHub \(http:\/\/127\.0\.0\.1:\d+\) is unreachable \(ECONNREFUSED\): trusting v1 by the signed release\.json on the hosts; no GitHub Deployment is recorded$/,
    );
    expect(error).toMatch(
      new RegExp(
        `^host ${hosts[1]!.hostLine}: releases/v1 is not trusted: release\\.json\\.sig: does not match the signed bytes; the file or its signature was changed$`,
      ),
    );
    expect(tampered.code).toBe(1);
    await expectUnchanged(site, 'v2');

    await writeFile(copy, signed);
    const result = await rollback(site, ['--json'], env);
    expect(result.code).toBe(0);
    expect(result.stderr.trimEnd().split('\n')).toEqual([warning]);
    expect(JSON.parse(result.stdout)).toMatchObject({
      release: { id: 'v1', signer: 'ci@example.com', checkedAgainst: 'hosts', url: null },
      github: 'unreachable',
      deployment: null,
      ok: true,
    });
    await expectRolledBack(site, 'v1', 'v2');
  });
});
