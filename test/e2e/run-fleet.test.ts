import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestHost } from '../hosts/sshd.js';
import { currentOn, snapshot, useFleet, type Fleet } from './fleet-helpers.js';
import { exists } from '../helpers/files.js';

const world = useFleet(4);
const { emulator, newFleet, release, deploy } = world;
let hosts: TestHost[];

/** The most restarts that ran at once, from the restart log. */
async function concurrency(fleet: Fleet): Promise<number> {
  const events = (await readFile(fleet.log, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => {
      const [kind, time] = line.split(' ');
      return { delta: kind === 'start' ? 1 : -1, time: BigInt(time ?? '0') };
    })
    .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.delta - b.delta));
  let running = 0;
  let most = 0;
  for (const event of events) {
    running += event.delta;
    most = Math.max(most, running);
  }
  return most;
}

describe('run-action across a fleet', () => {
  beforeAll(() => {
    hosts = world.hosts();
  });

  it('rolls a release out at most `parallel` hosts at once', async () => {
    const fleet = newFleet();
    await release(fleet);
    const run = await deploy(fleet, hosts, { parallel: '2' });
    expect(run.errors).toEqual([]);
    expect(run.outputs).toMatchObject({
      'release-id': 'v1',
      hosts: hosts.map((h) => h.hostLine).join('\n'),
      'rolled-back': 'false',
    });
    for (const h of hosts) expect(await currentOn(h, fleet)).toBe('v1');
    expect(await concurrency(fleet)).toBe(2);
    expect(run.summary).toContain('deployed to 4 hosts');
  });

  it('on a failure puts every switched host back; hosts not reached are never switched', async () => {
    const fleet = newFleet();
    await release(fleet);
    expect((await deploy(fleet, hosts, { parallel: '4' })).errors).toEqual([]);
    await release(fleet);
    const failing = hosts[2]!;
    await writeFile(path.join(failing.root, 'FAIL-v2'), '');
    try {
      const run = await deploy(fleet, hosts, { 'on-failure': 'rollback' });
      expect(run.code).toBe(1);
      expect(run.errors).toHaveLength(1);
      expect(run.errors[0]).toMatch(
        new RegExp(
          `^Deploying v2 failed on ${failing.hostLine}, the hosts are back on v1: host ${failing.hostLine}: v2: health check failed`,
        ),
      );
      for (const h of hosts) expect(await currentOn(h, fleet)).toBe('v1');
      // The last host was never reached: v2 never got there.
      expect(await exists(path.join(hosts[3]!.root, fleet.path, 'releases/v2'))).toBe(false);
      expect(run.outputs).toMatchObject({ 'release-id': 'v1', 'rolled-back': 'true' });
      expect(run.summary).toContain('put back on v1');
      expect(run.summary).toContain('not started (an earlier host failed)');
      const history = await readFile(
        path.join(hosts[0]!.root, fleet.path, '.deploy/history'),
        'utf8',
      );
      expect(
        history
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { event: string }).event),
      ).toEqual(['activated', 'activated', 'rolled-back']);
    } finally {
      await rm(path.join(failing.root, 'FAIL-v2'));
    }
  });

  it('with on-failure: stop, stops and says plainly that the fleet is split', async () => {
    const fleet = newFleet();
    await release(fleet);
    expect((await deploy(fleet, hosts, { parallel: '4' })).errors).toEqual([]);
    await release(fleet);
    const failing = hosts[1]!;
    await writeFile(path.join(failing.root, 'FAIL-v2'), '');
    try {
      const run = await deploy(fleet, hosts, { 'on-failure': 'stop' });
      expect(run.code).toBe(1);
      const [first, second, third, fourth] = hosts as [TestHost, TestHost, TestHost, TestHost];
      expect(await currentOn(first, fleet)).toBe('v2');
      expect(await currentOn(second, fleet)).toBe('v1');
      expect(await currentOn(third, fleet)).toBe('v1');
      expect(await currentOn(fourth, fleet)).toBe('v1');
      expect(run.errors[0]).toContain(
        `the hosts are split: ${first.hostLine} on v2; ${second.hostLine}, ${third.hostLine}, ${fourth.hostLine} on v1`,
      );
      expect(run.outputs['release-id']).toBe('');
      expect(run.outputs['rolled-back']).toBe('true');
      // `previous` would not bring a split fleet together: it is refused, naming each host.
      const back = await deploy(fleet, hosts, { 'release-id': 'previous' });
      expect(back.errors).toHaveLength(1);
      expect(back.errors[0]).toMatch(
        /^Input 'release-id': previous: the hosts disagree \(.* is on v2, previous v1; .* is on v1, previous .*\); deploy an explicit release-id to bring them together$/,
      );
    } finally {
      await rm(path.join(failing.root, 'FAIL-v2'));
    }
  });

  it('dry-run verifies, connects and prints the plan; every host stays as it was', async () => {
    const fleet = newFleet();
    await release(fleet);
    expect((await deploy(fleet, hosts.slice(0, 2), { parallel: '2' })).errors).toEqual([]);
    await release(fleet);
    const before = hosts.map((h) => snapshot(h.root));
    const run = await deploy(fleet, hosts, { 'dry-run': 'true', parallel: '4' });
    expect(run.errors).toEqual([]);
    expect(hosts.map((h) => snapshot(h.root))).toEqual(before);
    expect(run.summary).toContain('Dry run: shop production v2, nothing changed');
    expect(run.summary).toContain(`| \`${hosts[0]!.hostLine}\` | upload`);
    expect(run.summary).toContain('v1 → v2');
    expect(run.summary).toContain('nothing → v2');
    expect(run.outputs['release-id']).toBe('v2');
    expect(emulator().state.repository(fleet.repository).deployments).toHaveLength(1);
  });
});

describe('run-action previews', () => {
  beforeAll(() => {
    hosts = world.hosts();
  });

  it('deploys a pull request to its own path as a transient environment, and destroy removes it everywhere', async () => {
    const production = newFleet('production');
    await release(production);
    expect((await deploy(production, hosts.slice(0, 2))).errors).toEqual([]);

    const preview = { ...newFleet('pr-7', 'pr-7'), repository: production.repository };
    await release(preview);
    await release(preview);
    expect((await deploy(preview, hosts.slice(0, 2), { 'release-id': 'v1' })).errors).toEqual([]);
    expect((await deploy(preview, hosts.slice(0, 2))).errors).toEqual([]);
    const deployments = emulator().state.repository(production.repository).deployments;
    expect(
      deployments.map((d) => [d.environment, d.transientEnvironment, d.productionEnvironment]),
    ).toEqual([
      ['production', false, true],
      ['pr-7', true, false],
      ['pr-7', true, false],
    ]);

    const productionBefore = hosts
      .slice(0, 2)
      .map((h) => snapshot(path.join(h.root, production.path)));
    // Destroy verifies nothing, so it needs no allowed-signers.
    const run = await deploy(preview, hosts.slice(0, 2), {
      destroy: 'true',
      'stop-command': 'touch ../../../stopped-pr-7',
      'delete-releases': 'true',
      'allowed-signers': undefined,
    });
    expect(run.errors).toEqual([]);
    for (const h of hosts.slice(0, 2)) {
      expect(await exists(path.join(h.root, 'pr-7'))).toBe(false);
      expect(await exists(path.join(h.root, 'stopped-pr-7'))).toBe(true);
    }
    expect(hosts.slice(0, 2).map((h) => snapshot(path.join(h.root, production.path)))).toEqual(
      productionBefore,
    );
    const state = emulator().state.repository(production.repository);
    for (const d of state.deployments.filter((d) => d.environment === 'pr-7')) {
      expect(d.statuses.at(-1)?.state).toBe('inactive');
    }
    expect(
      state.deployments.find((d) => d.environment === 'production')?.statuses.at(-1)?.state,
    ).toBe('success');
    expect(state.releases.map((r) => r.tag)).toEqual(['shop/production/v1']);
    expect(run.summary).toContain('Destroy shop pr-7');
    expect(run.summary).toContain('Releases deleted: `shop/pr-7/v1`, `shop/pr-7/v2`');

    // A second destroy finds nothing and says so.
    const again = await deploy(preview, hosts.slice(0, 2), { destroy: 'true' });
    expect(again.errors).toEqual([]);
    expect(again.summary).toContain('nothing there');
  });
});
