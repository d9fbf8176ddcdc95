import { describe, expect, it } from 'vitest';
import { ConfigurationError, formatError } from '../../../../shared/errors.js';
import { hostReleases } from '../../../../shared/fleet/report.js';
import { fleetResult } from '../../../../shared/fleet/result.js';
import {
  rollout,
  type HostOutcome,
  type RolloutOptions,
} from '../../../../shared/fleet/rollout.js';
import type { HostResult } from '../../../../shared/host/activate.js';
import type { Phase } from '../../../../shared/host/session.js';
import { silentLog } from '../../../../shared/log.js';
import { connection, stagedHost } from './fakes.js';

/*
 * The rollout's decisions without hosts: each host's step is what a deploy on it returned or
 * threw, and what reading the host back afterwards gives, so every combination of outcomes can
 * be set up and what the fleet comes to checked: the headline, the error line, the outputs.
 */

interface Step {
  result: HostResult['result'];
  from: string | undefined;
  /** A failed restart or health check, and how going back went. */
  failed?: { what: string; switchBack?: string };
}

function hostResult(host: string, id: string, step: Step): HostResult {
  const back = step.result === 'failed-rolled-back' ? step.from : undefined;
  const current = step.failed ? back : id;
  const failure = step.failed
    ? new ConfigurationError({
        subject: `host ${host}`,
        problem: `${id}: ${step.failed.what}; ${back ? `switched back to ${back}` : 'nothing was current before, so nothing is current now'}`,
      })
    : undefined;
  return {
    host,
    releaseId: id,
    result: step.result,
    previousId: step.from,
    currentId: current,
    skippedUpload: false,
    bytesSent: 100,
    pruned: [],
    seconds: 1,
    ...(failure
      ? {
          failure: {
            step: 'health-check',
            what: step.failed?.what ?? 'failed',
            problem: failure.problem,
            message: failure.message,
            output: 'GET /health: ECONNREFUSED',
            ...(step.failed?.switchBack ? { switchBackProblem: step.failed.switchBack } : {}),
          },
        }
      : {}),
  };
}

/** A step that throws, after switching `current` or before. */
interface Thrown {
  error: Error;
  afterSwitch?: boolean;
}

interface Roll extends Partial<RolloutOptions> {
  hosts?: string[];
  /** What reading each host back gives; an Error when it cannot be reached. */
  reads?: Record<string, string | undefined | Error>;
  /** Putting a host back fails with this. */
  putBackFails?: Error;
  rollback?: boolean;
}

/** Runs a rollout of `id` where each host does what `steps` says; returns what it came to. */
async function roll(id: string, steps: Record<string, Step | Thrown>, options: Roll = {}) {
  const started: string[] = [];
  const putBack: string[] = [];
  const reconnects: string[] = [];
  const { hosts = ['a', 'b', 'c'], reads = {}, putBackFails, rollback = false, ...rest } = options;
  const connections = hosts.map((name) => connection(name, reconnects));
  const { outcomes } = await rollout(connections, {
    parallel: 1,
    onFailure: 'rollback',
    log: silentLog,
    title: (host) => host,
    stage: (c, onPhase: (phase: Phase) => void) => {
      started.push(c.host.label);
      const step = steps[c.host.label];
      if (step === undefined) return Promise.reject(new Error(`no step for ${c.host.label}`));
      return Promise.resolve(
        stagedHost(c.host.label, id, () => {
          if ('error' in step) {
            if (step.afterSwitch) onPhase('switch');
            return Promise.reject(step.error);
          }
          onPhase('switch');
          return Promise.resolve(hostResult(c.host.label, id, step));
        }),
      );
    },
    putBack: (c, to) => {
      putBack.push(`${c.host.label} -> ${to}`);
      if (putBackFails) return Promise.reject(putBackFails);
      return Promise.resolve(hostResult(c.host.label, to, { result: 'rolled-back', from: id }));
    },
    current: (c) => {
      const read = reads[c.host.label];
      if (read instanceof Error) return Promise.reject(read);
      return c.host.label in reads
        ? Promise.resolve(read)
        : Promise.reject(new Error('unreadable'));
    },
    ...rest,
  });
  const fleet = fleetResult(outcomes, { releaseId: id, rollback });
  return { outcomes, started, putBack, reconnects, fleet };
}

function where(outcomes: readonly HostOutcome[]) {
  return outcomes.map((o) => ({
    host: o.host,
    reached: o.reached,
    before: o.before,
    after: o.after,
    healthy: o.healthy,
  }));
}

const v = (id: string) => ({ kind: 'release', id }) as const;
const unknown = { kind: 'unknown' } as const;
const lost = () => new Error('ECONNREFUSED');

const activated: Step = { result: 'activated', from: 'v1' };
const backHealthy: Step = {
  result: 'failed-rolled-back',
  from: 'v1',
  failed: { what: 'health check failed' },
};
const backDown: Step = {
  result: 'failed-rolled-back',
  from: 'v1',
  failed: { what: 'restart failed', switchBack: 'restarting v1 failed too: boom' },
};
const held = new ConfigurationError({
  subject: 'host deploy@a',
  problem: 'deploy lock held by octocat (run 7)',
  hint: 'set lock-timeout to wait for it',
});
const connectionLost = (host: string) =>
  new ConfigurationError({ subject: `host ${host}`, problem: 'the SSH connection was lost' });

describe('what a rollout comes to', () => {
  it('all activated: the fleet runs the release, healthy, and the step succeeds', async () => {
    const { outcomes, fleet } = await roll(
      'v2',
      { 'deploy@a': activated, 'deploy@b': activated, 'deploy@c': activated },
      { parallel: 2 },
    );
    expect(where(outcomes).map((o) => [o.before, o.after, o.healthy])).toEqual([
      [v('v1'), v('v2'), true],
      [v('v1'), v('v2'), true],
      [v('v1'), v('v2'), true],
    ]);
    expect(fleet).toEqual({
      release: 'v2',
      before: 'v1',
      split: false,
      failed: false,
      changed: true,
      rolledBack: false,
      headline: 'deployed to 3 hosts',
      headlineMarkdown: 'deployed to 3 hosts',
      failure: undefined,
    });
    expect(JSON.parse(hostReleases(outcomes))).toEqual({
      'deploy@a': { release: 'v2', healthy: true },
      'deploy@b': { release: 'v2', healthy: true },
      'deploy@c': { release: 'v2', healthy: true },
    });
  });

  it('failed and rolled back: switched hosts go back, the rest is never started but read, the fleet is whole', async () => {
    const { outcomes, fleet, started, putBack } = await roll(
      'v2',
      { 'deploy@a': activated, 'deploy@b': backHealthy },
      { reads: { 'deploy@c': 'v1' } },
    );
    expect(started).toEqual(['deploy@a', 'deploy@b']);
    expect(putBack).toEqual(['deploy@a -> v1']);
    expect(where(outcomes)).toEqual([
      { host: 'deploy@a', reached: true, before: v('v1'), after: v('v1'), healthy: true },
      { host: 'deploy@b', reached: true, before: v('v1'), after: v('v1'), healthy: true },
      { host: 'deploy@c', reached: false, before: v('v1'), after: v('v1'), healthy: undefined },
    ]);
    expect(fleet).toMatchObject({
      release: 'v1',
      before: 'v1',
      split: false,
      failed: true,
      changed: true,
      rolledBack: true,
      headline: 'failed, the hosts are back on v1',
    });
    expect(formatError(fleet.failure)).toBe(
      'Deploying v2 failed on deploy@b, the hosts are back on v1: host deploy@b: v2: health check failed; switched back to v1',
    );
  });

  it('restart fails for the new release and again for the previous one: the host is down, said first', async () => {
    const { outcomes, fleet } = await roll('v2', { 'deploy@a': backDown }, { hosts: ['a'] });
    expect(outcomes[0]).toMatchObject({ after: v('v1'), healthy: false });
    expect(fleet).toMatchObject({
      release: 'v1',
      failed: true,
      headline: 'failed, deploy@a is down: back on v1, which did not come up either',
      headlineMarkdown: 'failed, `deploy@a` is down: back on v1, which did not come up either',
    });
    expect(formatError(fleet.failure)).toMatch(
      /^Deploying v2 failed on deploy@a, deploy@a is down: back on v1, which did not come up either: host deploy@a: v2: restart failed/,
    );
    expect(JSON.parse(hostReleases(outcomes))).toEqual({
      'deploy@a': { release: 'v1', healthy: false },
    });
  });

  it('every host down, or some: the down ones are named before the others', async () => {
    const all = await roll(
      'v2',
      { 'deploy@a': backDown, 'deploy@b': backDown },
      {
        hosts: ['a', 'b'],
        onFailure: 'stop',
        // The first failure stops the rollout; b is never started and reads v1, not checked.
        reads: { 'deploy@b': 'v1' },
      },
    );
    expect(all.fleet.headline).toBe(
      'failed, deploy@a is down (back on v1, which did not come up either); the other runs v1',
    );
    const some = await roll(
      'v2',
      { 'deploy@a': activated, 'deploy@b': backDown },
      { reads: { 'deploy@c': 'v1' } },
    );
    expect(some.fleet.headline).toBe(
      'failed, deploy@b is down (back on v1, which did not come up either); the others are back on v1',
    );
    const whole = await roll(
      'v2',
      { 'deploy@a': backDown, 'deploy@b': backDown },
      {
        hosts: ['a', 'b'],
        parallel: 2,
      },
    );
    expect(whole.fleet.headline).toBe(
      'failed, the hosts are down: back on v1, which did not come up either',
    );
  });

  it('with on-failure: stop, nothing is put back and the fleet is split, down hosts marked', async () => {
    const { outcomes, fleet, putBack } = await roll(
      'v2',
      { 'deploy@a': activated, 'deploy@b': backDown },
      { onFailure: 'stop', reads: { 'deploy@c': 'v1' } },
    );
    expect(putBack).toEqual([]);
    expect(outcomes.map((o) => o.after)).toEqual([v('v2'), v('v1'), v('v1')]);
    expect(fleet).toMatchObject({
      release: undefined,
      before: 'v1',
      split: true,
      failed: true,
      rolledBack: true,
      headline:
        'failed, the hosts are split: deploy@a on v2; deploy@c on v1; deploy@b on v1 (down: it did not come up)',
    });
  });

  it('a lock held on the first host: nothing changed, and the hosts say what they run', async () => {
    const { outcomes, fleet, started, putBack } = await roll(
      'v2',
      { 'deploy@a': { error: held } },
      { reads: { 'deploy@a': 'v1', 'deploy@b': 'v1', 'deploy@c': 'v1' } },
    );
    expect(started).toEqual(['deploy@a']);
    expect(putBack).toEqual([]);
    expect(outcomes[0]).toMatchObject({ reached: true, switched: false, after: v('v1') });
    expect(fleet).toMatchObject({
      release: 'v1',
      before: 'v1',
      failed: true,
      changed: false,
      rolledBack: false,
      headline: 'failed, nothing changed: the hosts run v1',
    });
    expect(formatError(fleet.failure)).toBe(
      'Deploying v2 failed on deploy@a, nothing changed: the hosts run v1: host deploy@a: deploy lock held by octocat (run 7); set lock-timeout to wait for it',
    );
    const alone = await roll(
      'v2',
      { 'deploy@a': { error: held } },
      { hosts: ['a'], reads: { 'deploy@a': 'v1' } },
    );
    expect(alone.fleet.headline).toBe('failed, nothing changed: deploy@a runs v1');
    // Hosts that could not be read are not reached, never "nothing".
    const unread = await roll('v2', { 'deploy@a': { error: held } });
    expect(unread.fleet.headline).toBe(
      'failed, nothing changed: deploy@a, deploy@b, deploy@c not reached (not changed by this step)',
    );
    expect(unread.fleet.release).toBeUndefined();
    expect(JSON.parse(hostReleases(unread.outcomes))).toMatchObject({
      'deploy@a': { reached: false },
    });
  });

  it('a host lost before its turn, with on-failure: rollback: the others go back, it is not reached', async () => {
    const { fleet, putBack, reconnects } = await roll(
      'v2',
      { 'deploy@a': activated, 'deploy@b': { error: connectionLost('deploy@b') } },
      { reads: { 'deploy@b': lost(), 'deploy@c': 'v1' } },
    );
    expect(putBack).toEqual(['deploy@a -> v1']);
    // Read back through the connection, and once more through a new one.
    expect(reconnects).toEqual(['deploy@b']);
    expect(fleet).toMatchObject({
      release: undefined,
      split: false,
      failed: true,
      headline:
        'failed, the other hosts are back on v1; deploy@b not reached (not changed by this step)',
    });
    expect(formatError(fleet.failure)).toMatch(
      /^Deploying v2 failed on deploy@b, the other hosts are back on v1; deploy@b not reached \(not changed by this step\): host deploy@b: the SSH connection was lost$/,
    );
  });

  it('a host lost right after switching: unknown when it cannot be read, split when it can', async () => {
    const steps = {
      'deploy@a': activated,
      'deploy@b': { error: connectionLost('deploy@b'), afterSwitch: true },
    };
    const gone = await roll('v2', steps, { reads: { 'deploy@b': lost(), 'deploy@c': 'v1' } });
    expect(gone.outcomes[1]).toMatchObject({ switched: true, before: unknown, after: unknown });
    expect(gone.fleet.headline).toBe(
      'failed, the other hosts are back on v1; deploy@b not reached after switching to v2: what it runs is not known',
    );
    const back = await roll('v2', steps, { reads: { 'deploy@b': 'v2', 'deploy@c': 'v1' } });
    expect(back.fleet).toMatchObject({
      split: true,
      release: undefined,
      headline: 'failed, the hosts are split: deploy@a, deploy@c on v1; deploy@b on v2',
    });
    const alone = await roll('v2', steps, { hosts: ['b'], reads: { 'deploy@b': lost() } });
    expect(alone.fleet.headline).toBe(
      'failed, deploy@b not reached after switching to v2: what it runs is not known',
    );
  });

  it('putting a host back fails: what it runs is read back from it', async () => {
    const { outcomes, fleet } = await roll(
      'v2',
      { 'deploy@a': activated, 'deploy@b': backHealthy },
      {
        hosts: ['a', 'b'],
        putBackFails: new ConfigurationError({ subject: 'host deploy@a', problem: 'disk full' }),
        reads: { 'deploy@a': 'v2' },
      },
    );
    expect(outcomes[0]).toMatchObject({ after: v('v2'), healthy: undefined });
    expect(fleet).toMatchObject({
      split: true,
      headline: 'failed, the hosts are split: deploy@a on v2; deploy@b on v1',
    });
    expect(formatError(fleet.failure)).toMatch(/failed on deploy@a, deploy@b, the hosts are split/);
  });

  it('first deploy failed with nothing current: nothing is current, said so', async () => {
    const { outcomes, fleet } = await roll(
      'v1',
      {
        'deploy@a': { result: 'failed', from: undefined, failed: { what: 'health check failed' } },
      },
      { hosts: ['a'] },
    );
    expect(where(outcomes)).toEqual([
      {
        host: 'deploy@a',
        reached: true,
        before: { kind: 'nothing' },
        after: { kind: 'nothing' },
        healthy: undefined,
      },
    ]);
    expect(fleet).toMatchObject({
      release: undefined,
      before: undefined,
      split: false,
      failed: true,
      rolledBack: false,
      headline: 'failed, nothing is current on deploy@a',
    });
    expect(JSON.parse(hostReleases(outcomes))).toEqual({ 'deploy@a': { release: null } });
  });

  it('a rollback that succeeds says so; one that fails says what runs', async () => {
    const ok = await roll(
      'v1',
      { 'deploy@a': { result: 'rolled-back', from: 'v2' } },
      { hosts: ['a'], rollback: true },
    );
    expect(ok.fleet).toMatchObject({
      release: 'v1',
      before: 'v2',
      headline: 'rolled back on 1 host',
    });
    const refused = await roll(
      'v1',
      { 'deploy@a': { error: held } },
      { hosts: ['a'], rollback: true, reads: { 'deploy@a': 'v2' } },
    );
    expect(formatError(refused.fleet.failure)).toMatch(
      /^Rolling back to v1 failed on deploy@a, nothing changed: deploy@a runs v2: host deploy@a: deploy lock held/,
    );
  });
});
