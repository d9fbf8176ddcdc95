import { describe, expect, it } from 'vitest';
import { ConfigurationError, formatError } from '../../../../shared/errors.js';
import {
  describePlan,
  plannedReleaseCommand,
  releaseCommandFrom,
  releasePhase,
  type ReleaseCommandReport,
} from '../../../../shared/fleet/release-command.js';
import { fleetResult } from '../../../../shared/fleet/result.js';
import { rollout, type RolloutOptions } from '../../../../shared/fleet/rollout.js';
import { runSummary } from '../../../../shared/fleet/summary.js';
import type { CommandRun, HostResult } from '../../../../shared/host/activate.js';
import type { StagedHost } from '../../../../shared/host/staged.js';
import { silentLog, type Log } from '../../../../shared/log.js';
import { connection, stagedHost } from './fakes.js';

/*
 * The release phase without hosts: each host's halves are stand-ins that record when they ran,
 * so the order (every host staged, then the command once, then the switches) and what a failure
 * at each point leaves behind are checked for every case.
 */

const hosts = ['a', 'b', 'c'].map((name) => connection(name));

function activated(host: string, id: string, from: string): HostResult {
  return {
    host,
    releaseId: id,
    result: 'activated',
    previousId: from,
    currentId: id,
    skippedUpload: false,
    bytesSent: 10,
    pruned: [],
    seconds: 1,
  };
}

function commandRun(ok: boolean, output: string, code: number | null = ok ? 0 : 3): CommandRun {
  return { ok, code, timedOut: false, output, fullOutput: Buffer.from(output), seconds: 0.5 };
}

interface Plan {
  /** Hosts whose staging throws this. */
  stageFails?: Record<string, Error>;
  /** Hosts whose switch throws this. */
  switchFails?: Record<string, Error>;
  /** What the release phase reports, or throws. */
  phase?: (staged: readonly StagedHost[]) => Promise<ReleaseCommandReport>;
}

/** A rollout of v2 over hosts on v1 where every step appends to `events`. */
async function roll(plan: Plan, options: Partial<RolloutOptions> = {}) {
  const events: string[] = [];
  const result = await rollout(hosts, {
    parallel: 2,
    onFailure: 'rollback',
    log: silentLog,
    title: (host) => host,
    stage: (c) => {
      const label = c.host.label;
      events.push(`stage ${label}`);
      const failure = plan.stageFails?.[label];
      if (failure) return Promise.reject(failure);
      return Promise.resolve(
        stagedHost(
          label,
          'v2',
          () => {
            events.push(`switch ${label}`);
            const error = plan.switchFails?.[label];
            return error ? Promise.reject(error) : Promise.resolve(activated(label, 'v2', 'v1'));
          },
          {
            current: 'v1',
            abandon: (reason) => {
              events.push(`let go ${label}${reason ? `: ${reason}` : ''}`);
              return Promise.resolve();
            },
          },
        ),
      );
    },
    releasePhase: (staged) => {
      events.push(`release phase on ${staged.map((s) => s.label).join(', ')}`);
      return plan.phase ? plan.phase(staged) : Promise.resolve(report('passed'));
    },
    putBack: (c, to) => {
      events.push(`put back ${c.host.label} on ${to}`);
      return Promise.resolve({ ...activated(c.host.label, to, 'v2'), result: 'rolled-back' });
    },
    current: () => Promise.resolve('v1'),
    ...options,
  });
  return { ...result, events };
}

function report(
  status: ReleaseCommandReport['status'],
  extra: Partial<ReleaseCommandReport> = {},
): ReleaseCommandReport {
  return {
    command: 'bin/migrate',
    host: 'deploy@a',
    releaseId: 'v2',
    timeoutSeconds: 600,
    status,
    ...extra,
  };
}

describe('a rollout with a release phase', () => {
  it('stages every host, runs the phase once, then switches: no switch before the phase', async () => {
    const { events, outcomes, releaseCommand } = await roll({});
    expect(events.slice(0, 4)).toEqual([
      'stage deploy@a',
      'stage deploy@b',
      'stage deploy@c',
      'release phase on deploy@a, deploy@b, deploy@c',
    ]);
    expect(events.slice(4).sort()).toEqual([
      'switch deploy@a',
      'switch deploy@b',
      'switch deploy@c',
    ]);
    expect(outcomes.map((o) => o.after)).toEqual(hosts.map(() => ({ kind: 'release', id: 'v2' })));
    expect(releaseCommand?.status).toBe('passed');
  });

  it('a failed release command switches no host and lets each go, recording why', async () => {
    const failed = report('failed', {
      run: commandRun(false, 'migrating\nERROR: relation "users" exists'),
      reason: 'release command failed (exit 3) on deploy@a',
    });
    const { events, outcomes, releaseCommand } = await roll({
      phase: () => Promise.resolve(failed),
    });
    expect(events.filter((e) => e.startsWith('switch'))).toEqual([]);
    expect(events.filter((e) => e.startsWith('let go')).sort()).toEqual(
      ['a', 'b', 'c'].map((h) => `let go deploy@${h}: release command failed (exit 3) on deploy@a`),
    );
    expect(outcomes.map((o) => [o.heldBack, o.switched, o.after])).toEqual(
      hosts.map(() => ['release-command', false, { kind: 'release', id: 'v1' }]),
    );
    const fleet = fleetResult(outcomes, { releaseId: 'v2', rollback: false, releaseCommand });
    expect(fleet).toMatchObject({
      failed: true,
      release: 'v1',
      rolledBack: false,
      headline: 'failed in the release command, nothing changed: the hosts run v1',
    });
    expect(formatError(fleet.failure)).toBe(
      'Deploying v2 failed in the release command, nothing changed: the hosts run v1: host deploy@a: the release command failed (exit 3) for v2; no host was switched; last output: migrating ERROR: relation "users" exists',
    );
  });

  it('a host that cannot be staged stops the rollout before the phase; the others are let go', async () => {
    const held = new ConfigurationError({ subject: 'host deploy@b', problem: 'deploy lock held' });
    const { events, outcomes, releaseCommand } = await roll({
      stageFails: { 'deploy@b': held },
    });
    expect(events.some((e) => e.startsWith('release phase'))).toBe(false);
    expect(events.filter((e) => e.startsWith('switch'))).toEqual([]);
    // Staged in parallel 2: a and b started; c never did.
    expect(events.filter((e) => e.startsWith('let go'))).toEqual(['let go deploy@a']);
    expect(outcomes.map((o) => [o.reached, o.heldBack])).toEqual([
      [true, 'another-host'],
      [true, undefined],
      [false, undefined],
    ]);
    expect(releaseCommand).toBeUndefined();
    const fleet = fleetResult(outcomes, { releaseId: 'v2', rollback: false });
    // b never took the lock, and c never started: both read back, unchanged.
    expect(fleet.headline).toBe('failed, nothing changed: the hosts run v1');
  });

  it('a release phase that breaks lets every host go unswitched and fails the step', async () => {
    const events: string[] = [];
    await expect(
      rollout(hosts.slice(0, 2), {
        parallel: 1,
        onFailure: 'rollback',
        log: silentLog,
        title: (host) => host,
        stage: (c) =>
          Promise.resolve(
            stagedHost(c.host.label, 'v2', () => Promise.reject(new Error('never switched')), {
              abandon: () => {
                events.push(`let go ${c.host.label}`);
                return Promise.resolve();
              },
            }),
          ),
        releasePhase: () => Promise.reject(new Error('lost the bastion')),
        putBack: () => Promise.reject(new Error('nothing to put back')),
        current: () => Promise.resolve(undefined),
      }),
    ).rejects.toThrow('lost the bastion');
    expect(events).toEqual(['let go deploy@a', 'let go deploy@b']);
  });

  it('a switch that fails puts switched hosts back and lets the hosts never switched go', async () => {
    const lost = new ConfigurationError({ subject: 'host deploy@a', problem: 'disk full' });
    const { events, outcomes } = await roll({ switchFails: { 'deploy@a': lost } }, { parallel: 1 });
    expect(events.slice(3)).toEqual([
      'release phase on deploy@a, deploy@b, deploy@c',
      'switch deploy@a',
      'let go deploy@b',
      'let go deploy@c',
    ]);
    expect(outcomes.map((o) => o.heldBack)).toEqual([undefined, 'another-host', 'another-host']);
    const summary = runSummary({
      app: 'shop',
      environment: 'production',
      releaseId: 'v2',
      releaseUrl: 'https://github.com/acme/shop/releases/tag/shop/production/v2',
      manifest: {
        build: { sha: 'c'.repeat(40), digest: 'sha256:00', size: 1 },
        changes: 'Deploy ccccccc',
        config: { vars: {} },
      } as never,
      manifestDigest: 'sha256:11',
      signer: 'ci@example.com',
      rollback: false,
      fleet: fleetResult(outcomes, { releaseId: 'v2', rollback: false }),
      outcomes,
      hint: undefined,
      deploymentId: undefined,
      url: undefined,
      releaseCommand: report('passed', { run: commandRun(true, 'schema 1 -> 2') }),
    });
    expect(summary).toContain('not switched (another host failed)');
    expect(summary).toContain(
      '✓ `bin/migrate` on `deploy@a` in `releases/v2` passed in 0.50s\n\n```text\nschema 1 -> 2\n```',
    );
  });
});

/** A host staged for the release phase, whose release command prints `output`. */
function commandHost(
  label: string,
  options: {
    wasCurrent?: boolean;
    run?: (onOutput?: (chunk: Buffer) => void) => Promise<CommandRun>;
    ran?: string[];
  } = {},
): StagedHost {
  return stagedHost(label, 'v2', () => Promise.reject(new Error('not here')), {
    wasCurrent: options.wasCurrent ?? false,
    runCommand: (command, timeout, onOutput) => {
      options.ran?.push(`${label}: ${command} (${timeout} s)`);
      return options.run ? options.run(onOutput) : Promise.resolve(commandRun(true, 'ok'));
    },
  });
}

function recordingLog(): Log & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (message) => lines.push(message),
    warning: (message) => lines.push(`warning: ${message}`),
    debug: () => undefined,
    setSecret: () => undefined,
    group: async (title, body) => {
      lines.push(`group ${title}`);
      try {
        return await body();
      } finally {
        lines.push('endgroup');
      }
    },
  };
}

describe('the release command', () => {
  const command = { command: 'bin/migrate', timeoutSeconds: 30, host: 'deploy@b', onReturn: false };

  it('runs once, on the host named, its output grouped and shown as it comes, never obeyed', async () => {
    const ran: string[] = [];
    const log = recordingLog();
    const output = 'schema 1 -> 2\n::error::not from us\n';
    let shownBeforeTheEnd: string[] = [];
    const run = async (onOutput?: (chunk: Buffer) => void) => {
      onOutput?.(Buffer.from(output));
      await new Promise((resolve) => setTimeout(resolve, 5));
      shownBeforeTheEnd = [...log.lines];
      return commandRun(true, output);
    };
    const phase = releasePhase({ ...command, log });
    const result = await phase([
      commandHost('deploy@a', { ran }),
      commandHost('deploy@b', { ran, run }),
    ]);
    expect(ran).toEqual(['deploy@b: bin/migrate (30 s)']);
    expect(result).toMatchObject({ status: 'passed', host: 'deploy@b', releaseId: 'v2' });
    expect(log.lines[0]).toBe('group Release command on deploy@b in releases/v2: bin/migrate');
    const stop = log.lines[1]!;
    expect(stop).toMatch(/^::stop-commands::[0-9a-f]{32}$/);
    const fenced = [output.trimEnd(), `::${stop.slice('::stop-commands::'.length)}::`];
    expect(log.lines.slice(2, 4)).toEqual(fenced);
    // Printed while the command still ran, and only once.
    expect(shownBeforeTheEnd.slice(2, 4)).toEqual(fenced);
    expect(log.lines.filter((line) => line.includes('schema 1 -> 2'))).toHaveLength(1);
    expect(log.lines.at(-1)).toBe('endgroup');
  });

  it('says how it failed: the exit status, a timeout, a dropped connection', async () => {
    const phase = releasePhase({ ...command, log: silentLog });
    const exit = await phase([
      commandHost('deploy@b', { run: () => Promise.resolve(commandRun(false, 'no', 2)) }),
    ]);
    expect(exit).toMatchObject({
      status: 'failed',
      reason: 'release command failed (exit 2) on deploy@b',
    });
    const slow = await phase([
      commandHost('deploy@b', {
        run: () => Promise.resolve({ ...commandRun(false, 'waiting', null), timedOut: true }),
      }),
    ]);
    expect(slow.reason).toBe('release command did not finish within 30 s on deploy@b');
    const dropped = await phase([
      commandHost('deploy@b', {
        run: () =>
          Promise.reject(
            new ConfigurationError({
              subject: 'host deploy@b',
              problem: 'the SSH connection was lost',
            }),
          ),
      }),
    ]);
    expect(dropped.status).toBe('failed');
    const fleet = fleetResult([], { releaseId: 'v2', rollback: false, releaseCommand: dropped });
    expect(formatError(fleet.failure)).toBe(
      'Deploying v2 failed in the release command, nothing changed: host deploy@b: the release command for v2 did not finish: host deploy@b: the SSH connection was lost; no host was switched',
    );
  });

  it('is not run on a return to a release that was current before, unless asked', async () => {
    const ran: string[] = [];
    const staged = [
      commandHost('deploy@a', { ran, wasCurrent: true }),
      commandHost('deploy@b', { ran }),
    ];
    const skipped = await releasePhase({ ...command, log: silentLog })(staged);
    expect(ran).toEqual([]);
    expect(skipped).toMatchObject({ status: 'skipped' });
    expect(skipped.reason).toMatch(/^v2 was current before on deploy@a: a return to it/);
    const forced = await releasePhase({ ...command, onReturn: true, log: silentLog })(staged);
    expect(ran).toEqual(['deploy@b: bin/migrate (30 s)']);
    expect(forced.status).toBe('passed');
  });

  it('in a dry run, says where it would run, or why it would not', () => {
    const plan = plannedReleaseCommand(command, 'v2', [
      { host: 'deploy@a', wasCurrent: false },
      { host: 'deploy@b', wasCurrent: false },
    ]);
    expect(describePlan(plan!)).toBe(
      'release command: would run "bin/migrate" on deploy@b in releases/v2 (.env exported, timeout 30 s), once, after every host has v2 and before any switch',
    );
    const back = plannedReleaseCommand(command, 'v2', [{ host: 'deploy@a', wasCurrent: true }]);
    expect(back?.status).toBe('would-skip');
    expect(plannedReleaseCommand(undefined, 'v2', [])).toBeUndefined();
  });
});

describe('the release-command inputs', () => {
  const hostsLines = [{ label: 'deploy@a' }, { label: 'deploy@b:2222' }];
  const base = { hosts: hostsLines, timeoutSeconds: 600, onReturn: false };

  it('run on the first host unless another is named', () => {
    expect(releaseCommandFrom({ ...base, command: 'bin/migrate', host: undefined })?.host).toBe(
      'deploy@a',
    );
    expect(
      releaseCommandFrom({ ...base, command: 'bin/migrate', host: 'deploy@b:2222' })?.host,
    ).toBe('deploy@b:2222');
    expect(releaseCommandFrom({ ...base, command: undefined, host: undefined })).toBeUndefined();
  });

  it('refuse a host that is not one of the hosts lines, and a host without a command', () => {
    expect(() => releaseCommandFrom({ ...base, command: 'x', host: 'deploy@b' })).toThrow(
      "Input 'release-command-host': expected one of the hosts lines (deploy@a, deploy@b:2222), got deploy@b",
    );
    expect(() => releaseCommandFrom({ ...base, command: undefined, host: 'deploy@a' })).toThrow(
      "Input 'release-command-host': set, but release-command is not",
    );
  });
});
