import { describe, expect, it } from 'vitest';
import { ConfigurationError, formatError } from '../../../../shared/errors.js';
import type { Connection } from '../../../../shared/fleet/connect.js';
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
 * threw, so every combination of outcomes can be set up and what the fleet comes to checked.
 */

const hosts = ['a', 'b', 'c'].map(connection);

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
            problem: failure.problem,
            message: failure.message,
            output: 'GET /health: ECONNREFUSED',
            ...(step.failed?.switchBack ? { switchBackProblem: step.failed.switchBack } : {}),
          },
        }
      : {}),
  };
}

/** Runs a rollout of `id` where each host does what `steps` says; returns what it came to. */
async function roll(
  id: string,
  steps: Record<string, Step | Error>,
  options: Partial<RolloutOptions> & { on?: readonly Connection[]; reads?: string } = {},
) {
  const started: string[] = [];
  const putBack: string[] = [];
  const { on, reads, ...overrides } = options;
  const { outcomes } = await rollout(on ?? hosts, {
    parallel: 1,
    onFailure: 'rollback',
    log: silentLog,
    stage: (c, onPhase: (phase: Phase) => void) => {
      started.push(c.host.label);
      const step = steps[c.host.label] ?? new Error(`no step for ${c.host.label}`);
      if (step instanceof Error) return Promise.reject(step);
      return Promise.resolve(
        stagedHost(c.host.label, id, () => {
          onPhase('switch');
          return Promise.resolve(hostResult(c.host.label, id, step));
        }),
      );
    },
    putBack: (c, to) => {
      putBack.push(`${c.host.label} -> ${to}`);
      return Promise.resolve(hostResult(c.host.label, to, { result: 'rolled-back', from: id }));
    },
    current: () =>
      reads === undefined ? Promise.reject(new Error('unreadable')) : Promise.resolve(reads),
    ...overrides,
  });
  return {
    outcomes,
    started,
    putBack,
    fleet: fleetResult(outcomes, { releaseId: id, rollback: false }),
  };
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

/** v2 goes to the first host, then fails its health check on the second, which goes back to v1. */
const secondFails: Record<string, Step> = {
  'deploy@a': { result: 'activated', from: 'v1' },
  'deploy@b': { result: 'failed-rolled-back', from: 'v1', failed: { what: 'health check failed' } },
};

describe('what a rollout comes to', () => {
  it('all activated: the fleet runs the release, healthy, and the step succeeds', async () => {
    const activated: Step = { result: 'activated', from: 'v1' };
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
      rolledBack: false,
      headline: 'deployed to 3 hosts',
      failure: undefined,
    });
  });

  it('failed and rolled back: switched hosts go back, the rest is never started, the fleet is whole', async () => {
    const { outcomes, fleet, started, putBack } = await roll('v2', secondFails, { reads: 'v1' });
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
      rolledBack: true,
      headline: 'failed, the hosts are back on v1',
    });
    expect(formatError(fleet.failure)).toBe(
      '1 of 3 hosts failed, the hosts are back on v1: host deploy@b: v2: health check failed; switched back to v1',
    );
  });

  it('rolled back, but the previous release is not healthy either: says so', async () => {
    const { outcomes, fleet } = await roll(
      'v2',
      {
        'deploy@a': {
          result: 'failed-rolled-back',
          from: 'v1',
          failed: { what: 'restart failed', switchBack: 'restarting v1 failed too: boom' },
        },
      },
      { on: hosts.slice(0, 1) },
    );
    expect(outcomes[0]).toMatchObject({ after: v('v1'), healthy: false });
    expect(fleet).toMatchObject({
      release: 'v1',
      failed: true,
      headline: 'failed, the hosts are back on v1 (not healthy on deploy@a)',
    });
    // One host: the step fails with that host's own line.
    expect(formatError(fleet.failure)).toBe(
      'host deploy@a: v2: restart failed; switched back to v1',
    );
  });

  it('not reached, with on-failure: stop: nothing is put back and the fleet is split', async () => {
    const { outcomes, fleet, putBack } = await roll('v2', secondFails, {
      onFailure: 'stop',
      reads: 'v1',
    });
    expect(putBack).toEqual([]);
    expect(outcomes.map((o) => o.after)).toEqual([v('v2'), v('v1'), v('v1')]);
    expect(fleet).toMatchObject({
      release: undefined,
      before: 'v1',
      split: true,
      failed: true,
      rolledBack: true,
      headline: 'failed, the hosts are split: deploy@a on v2, deploy@b on v1, deploy@c on v1',
    });
  });

  it('not reached and unreadable: what it runs is unknown, never "nothing"', async () => {
    const { outcomes, fleet } = await roll('v2', secondFails, { onFailure: 'stop' });
    expect(outcomes[2]).toMatchObject({ reached: false, after: { kind: 'unknown' } });
    expect(fleet.headline).toBe(
      'failed, the hosts are split: deploy@a on v2, deploy@b on v1, deploy@c unknown',
    );
    expect(fleet.release).toBeUndefined();
  });

  it('lock held before any change: says no host was changed', async () => {
    const held = new ConfigurationError({
      subject: 'host deploy@a',
      problem: 'deploy lock held by octocat (run 7)',
      hint: 'set lock-timeout to wait for it',
    });
    const { outcomes, fleet, started, putBack } = await roll(
      'v2',
      { 'deploy@a': held },
      { reads: 'v1' },
    );
    expect(started).toEqual(['deploy@a']);
    expect(putBack).toEqual([]);
    expect(outcomes[0]).toMatchObject({
      reached: true,
      switched: false,
      after: { kind: 'unknown' },
    });
    expect(fleet).toMatchObject({
      release: undefined,
      failed: true,
      rolledBack: false,
      headline: 'failed, no host was changed',
    });
    expect(formatError(fleet.failure)).toBe(
      '1 of 3 hosts failed, no host was changed: host deploy@a: deploy lock held by octocat (run 7); set lock-timeout to wait for it',
    );
    // On one host, the step fails with the host's own error.
    const alone = await roll('v2', { 'deploy@a': held }, { on: hosts.slice(0, 1) });
    expect(alone.fleet.failure).toBe(held);
  });

  it('first deploy failed with nothing current: nothing is current, said so', async () => {
    const { outcomes, fleet } = await roll(
      'v1',
      {
        'deploy@a': { result: 'failed', from: undefined, failed: { what: 'health check failed' } },
      },
      { on: hosts.slice(0, 1) },
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
      headline: 'failed, nothing is current',
    });
    expect(formatError(fleet.failure)).toBe(
      'host deploy@a: v1: health check failed; nothing was current before, so nothing is current now',
    );
  });

  it('a host whose step broke off after the switch: what it runs is not known', async () => {
    const lost = new ConfigurationError({
      subject: 'host deploy@a',
      problem: 'the SSH connection was lost',
    });
    const { fleet } = await roll(
      'v2',
      { 'deploy@a': lost },
      {
        on: hosts.slice(0, 1),
        stage: (c, onPhase) =>
          Promise.resolve(
            stagedHost(c.host.label, 'v2', () => {
              onPhase('switch');
              return Promise.reject(lost);
            }),
          ),
      },
    );
    expect(fleet).toMatchObject({
      release: undefined,
      split: false,
      failed: true,
      headline: 'failed, what every host runs is not known: deploy@a unknown',
    });
  });

  it('a rollback that succeeds says so', () => {
    const outcome: HostOutcome = {
      host: 'deploy@a',
      reached: true,
      switched: true,
      before: v('v2'),
      after: v('v1'),
      healthy: true,
      failure: undefined,
    };
    expect(fleetResult([outcome], { releaseId: 'v1', rollback: true })).toMatchObject({
      release: 'v1',
      before: 'v2',
      headline: 'rolled back on 1 host',
    });
  });
});
