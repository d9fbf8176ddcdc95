import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLockScript, releaseLockScript } from '../../shared/host/scripts/lock.js';
import { connectSsh } from '../../shared/host/ssh.js';
import { shownLog, type ActionRun, type StartedAction } from '../helpers/action.js';
import { appTree, pack } from '../helpers/releases.js';
import type { TestHost } from '../hosts/sshd.js';
import { SHA, currentOn, useFleet, type Fleet } from './fleet-helpers.js';
import { exists } from '../helpers/files.js';

/*
 * What a person reads after a run is true: the summary's headline and rows, the `::error::`
 * line, the GitHub Deployment and the outputs say what each host runs after the step, read back
 * from it, and "not reached" for a host that cannot be, on real sshd hosts that fail, hold a
 * lock, go away before their turn or right after switching.
 */

const world = useFleet(3);
const { emulator, newFleet, release, deploy } = world;

/** Resolves once `test` holds, checking every `everyMs` for at most `seconds`. */
async function until(
  test: () => Promise<boolean> | boolean,
  seconds = 30,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error('gave up waiting');
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Restarts begun on the fleet so far, from the restart log the fleet's default restart writes. */
async function restartsStarted(fleet: Fleet): Promise<number> {
  const log = await readFile(fleet.log, 'utf8').catch(() => '');
  return log.split('\n').filter((line) => line.startsWith('start ')).length;
}

/**
 * Starts a deploy of `id` to one host and resolves as soon as the host is receiving it (its
 * `releases/<id>.tmp` exists): the stream is compressed and fast, so no fixed wait would do.
 */
async function uploadingTo(fleet: Fleet, host: TestHost, id: string): Promise<StartedAction> {
  const started = await world.start(fleet, [host], { 'release-id': id });
  const receiving = path.join(host.root, fleet.path, 'releases', `${id}.tmp`);
  await until(() => exists(receiving), 30, 2);
  return started;
}

function lastDeployment(fleet: Fleet) {
  return emulator().state.repository(fleet.repository).deployments.at(-1);
}

function hostReleases(run: ActionRun): unknown {
  return JSON.parse(run.outputs['host-releases'] ?? 'null');
}

/** A fleet on v1 everywhere, with v2 published: where each scenario starts. */
async function onV1(hosts: readonly TestHost[], inputs: Record<string, string> = {}) {
  const fleet = newFleet();
  await release(fleet);
  const first = await deploy(fleet, hosts, { parallel: String(hosts.length), ...inputs });
  expect(first.errors, first.log).toEqual([]);
  await release(fleet);
  return fleet;
}

describe('run-action reports what runs where', () => {
  it('restart fails for the new release and again for the previous one: every report says the hosts are down', async () => {
    const hosts = world.hosts().slice(0, 2);
    const restart = `echo "restarting $(basename "$PWD")"; if [ -e ../../../FAIL-RESTART ]; then echo "port 8080 is in use" >&2; exit 1; fi`;
    const fleet = await onV1(hosts, { restart });
    await Promise.all(hosts.map((h) => writeFile(path.join(h.root, 'FAIL-RESTART'), '')));
    try {
      const run = await deploy(fleet, hosts, { restart, parallel: '2' });
      const [a, b] = hosts.map((h) => h.hostLine) as [string, string];
      const down = 'the hosts are down: back on v1, which did not come up either';
      expect(run.code).toBe(1);
      expect(run.errors).toHaveLength(1);
      expect(run.errors[0]).toMatch(
        new RegExp(
          `^Deploying v2 failed on ${a}, ${b}, ${down}: host ${a}: v2: restart failed; switched back to v1, which did not come up either: restarting v1 failed too: `,
        ),
      );
      expect(run.log).not.toMatch(/^::warning::/m);
      expect(run.summary).toContain(`### Deploy shop production v2: failed, ${down}\n`);
      expect(run.summary).toContain(`| \`${a}\` | ✗ `);
      expect(run.summary).toMatch(/\| v1 ✗ down \| v1 \|/);
      expect(run.summary).toContain(
        `\`${a}\`, the last output of the restart of v2:\n\n\`\`\`text\nrestarting v2\nport 8080 is in use\n\`\`\``,
      );
      expect(run.summary).toContain(
        `\`${a}\`, the last output of bringing v1 back up:\n\n\`\`\`text\nrestarting v1\nport 8080 is in use\n\`\`\``,
      );
      const deployment = lastDeployment(fleet);
      expect(deployment?.statuses.at(-1)).toMatchObject({
        state: 'failure',
        description: `v2: failed, ${down}`,
      });
      expect(run.outputs).toMatchObject({ 'release-id': 'v1', 'rolled-back': 'true' });
      expect(hostReleases(run)).toEqual({
        [a]: { release: 'v1', healthy: false },
        [b]: { release: 'v1', healthy: false },
      });
      // One group per host, each holding that host's restart output, printed whole.
      const log = shownLog(run.log);
      for (const h of [a, b]) {
        const start = log.indexOf(`::group::${h}: deploy v2\n`);
        expect(start).toBeGreaterThanOrEqual(0);
        const group = log.slice(start, log.indexOf('::endgroup::', start));
        expect(group).toContain(`host ${h}: restart v2: `);
        expect(group).toMatch(/^restarting v2\nport 8080 is in use$/m);
        expect(group).toMatch(/^restarting v1\nport 8080 is in use$/m);
        expect(group).not.toContain(h === a ? `host ${b}:` : `host ${a}:`);
      }
    } finally {
      await Promise.all(hosts.map((h) => rm(path.join(h.root, 'FAIL-RESTART'))));
    }
  });

  it('a lock held on a host changes nothing: no Deployment, release-id says what runs', async () => {
    const hosts = world.hosts();
    const fleet = await onV1(hosts);
    const deployments = emulator().state.repository(fleet.repository).deployments.length;
    const [held] = hosts as [TestHost];
    const ssh = await connectSsh({
      target: { user: held.user, host: held.host, port: held.port, label: held.hostLine },
      privateKey: held.privateKey,
      knownHosts: held.knownHosts,
    });
    const token = randomUUID();
    const record = { holder: 'octocat (run 7)', pid: 1, machine: 'elsewhere', started: 'now' };
    try {
      expect((await ssh.exec(acquireLockScript(fleet.path, record, token, 'n'))).code).toBe(0);
      const run = await deploy(fleet, hosts);
      expect(run.errors).toEqual([
        `Deploying v2 failed on ${held.hostLine}, nothing changed: the hosts run v1: host ${held.hostLine}: deploy lock held by octocat (run 7) on elsewhere (pid 1) since now; set lock-timeout to wait for it`,
      ]);
      expect(emulator().state.repository(fleet.repository).deployments).toHaveLength(deployments);
      expect(run.outputs).toMatchObject({
        'release-id': 'v1',
        'previous-release-id': 'v1',
        'deployment-id': '',
        'rolled-back': 'false',
      });
      expect(run.summary).toContain(
        '### Deploy shop production v2: failed, nothing changed: the hosts run v1\n',
      );
      for (const h of hosts) {
        expect(await currentOn(h, fleet)).toBe('v1');
        expect(await exists(path.join(h.root, fleet.path, 'releases/v2'))).toBe(false);
      }
    } finally {
      await ssh.exec(releaseLockScript(fleet.path, token));
      await ssh.close();
    }
  });

  it('a host unreachable before its turn, with on-failure: rollback: the others go back, it is not reached and unchanged', async () => {
    const hosts = world.hosts();
    const fleet = await onV1(hosts);
    const [a, b, c] = hosts as [TestHost, TestHost, TestHost];
    const started = await world.start(fleet, hosts, { 'on-failure': 'rollback' });
    // While the first host restarts, the second goes away.
    await until(async () => (await restartsStarted(fleet)) > hosts.length);
    await b.goDown();
    try {
      const run = await started.result;
      expect(run.errors, run.log).toHaveLength(1);
      expect(run.errors[0]).toMatch(
        new RegExp(
          `^Deploying v2 failed on ${b.hostLine}, the other hosts are back on v1; ${b.hostLine} not reached \\(not changed by this step\\): host ${b.hostLine}: `,
        ),
      );
      expect(run.summary).toMatch(
        new RegExp(`\\| \`${b.hostLine}\` \\| ✗ .* \\| not reached \\| – \\|`),
      );
      expect(run.outputs['release-id']).toBe('');
      expect(hostReleases(run)).toEqual({
        [a.hostLine]: { release: 'v1', healthy: true },
        [b.hostLine]: { reached: false },
        [c.hostLine]: { release: 'v1' },
      });
    } finally {
      await b.comeBack();
    }
    for (const h of hosts) expect(await currentOn(h, fleet)).toBe('v1');
    for (const h of [b, c]) {
      expect(await exists(path.join(h.root, fleet.path, 'releases/v2'))).toBe(false);
    }
  });

  it('a host that loses SSH right after switching: the fleet really is split, it is not reached, and the next run takes its lock over', async () => {
    const hosts = world.hosts();
    const fleet = await onV1(hosts);
    const [a, b, c] = hosts as [TestHost, TestHost, TestHost];
    // On the second host, the restart says it has begun, then runs long enough to be cut off.
    const restart = `if [ -e ../../../CUT ]; then touch ../../../CUT-NOW; sleep 20; fi`;
    await writeFile(path.join(b.root, 'CUT'), '');
    const started = await world.start(fleet, hosts, { restart });
    await until(() => exists(path.join(b.root, 'CUT-NOW')));
    await rm(path.join(b.root, 'CUT'));
    await b.goDown();
    let run: ActionRun;
    try {
      run = await started.result;
    } finally {
      await b.comeBack();
    }
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toMatch(
      new RegExp(
        `^Deploying v2 failed on ${b.hostLine}, the other hosts are back on v1; ${b.hostLine} not reached after switching to v2: what it runs is not known: host ${b.hostLine}: `,
      ),
    );
    expect(run.summary).toContain(
      `failed, the other hosts are back on v1; \`${b.hostLine}\` not reached after switching to v2: what it runs is not known`,
    );
    expect(hostReleases(run)).toMatchObject({ [b.hostLine]: { reached: false } });
    expect(lastDeployment(fleet)?.statuses.at(-1)?.description).toMatch(
      /^v2: failed, the other hosts are back on v1; .* not reached after switching to v2/,
    );
    // What the report could not read: the host really runs v2, and its lock is left.
    expect(await currentOn(a, fleet)).toBe('v1');
    expect(await currentOn(b, fleet)).toBe('v2');
    expect(await currentOn(c, fleet)).toBe('v1');
    expect(await exists(path.join(b.root, fleet.path, '.deploy/lock'))).toBe(true);

    // The next run takes the dead lock over once it is silent, and brings the fleet together.
    const next = await deploy(fleet, hosts, { 'lock-stale-after': '3', 'lock-timeout': '20' });
    expect(next.errors).toEqual([]);
    expect(next.log).toContain('took over the deploy lock of octocat');
    for (const h of hosts) expect(await currentOn(h, fleet)).toBe('v2');
    expect(await exists(path.join(b.root, fleet.path, '.deploy/lock'))).toBe(false);
    await rm(path.join(b.root, 'CUT-NOW'));
  });

  it('a connection dropped mid-upload: connected again, the lock is released and the half-received release removed', async () => {
    const [a] = world.hosts() as [TestHost];
    const fleet = await onV1([a]);
    const big = await pack(
      await appTree({ 'data/filler.bin': randomBytes(64 * 1024 * 1024) }),
      'shop',
      SHA,
    );
    await release(fleet, big);
    const dropped = await uploadingTo(fleet, a, 'v3');
    expect(await a.dropConnections()).toBeGreaterThan(0);
    const run = await dropped.result;
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toMatch(
      new RegExp(`^Deploying v3 failed on ${a.hostLine}, nothing changed: ${a.hostLine} runs v1: `),
    );
    expect(run.log).toContain(`host ${a.hostLine}: connected again to release the deploy lock`);
    expect(run.outputs['release-id']).toBe('v1');
    expect(await exists(path.join(a.root, fleet.path, '.deploy/lock'))).toBe(false);
    expect(await readdir(path.join(a.root, fleet.path, 'releases'))).toEqual(['v1']);
    expect(await currentOn(a, fleet)).toBe('v1');

    // Cut off for good: the lock and the half-received release stay, until the next run takes
    // the lock over and cleans up.
    const cut = await uploadingTo(fleet, a, 'v3');
    await a.goDown();
    let gone: ActionRun;
    try {
      gone = await cut.result;
    } finally {
      await a.comeBack();
    }
    expect(gone.errors[0]).toMatch(
      new RegExp(`${a.hostLine} not reached \\(not changed by this step\\)`),
    );
    expect(gone.log).toContain(
      `host ${a.hostLine}: could not connect again to release the deploy lock`,
    );
    expect(await exists(path.join(a.root, fleet.path, '.deploy/lock'))).toBe(true);
    expect((await readdir(path.join(a.root, fleet.path, 'releases'))).sort()).toEqual([
      'v1',
      'v3.tmp',
    ]);
    const next = await deploy(fleet, [a], {
      'release-id': 'v3',
      'lock-stale-after': '3',
      'lock-timeout': '20',
    });
    expect(next.errors).toEqual([]);
    expect((await readdir(path.join(a.root, fleet.path, 'releases'))).sort()).toEqual(['v1', 'v3']);
    expect(await currentOn(a, fleet)).toBe('v3');
  });
});
