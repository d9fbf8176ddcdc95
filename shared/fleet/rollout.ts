import { ConfigurationError } from '../errors.js';
import type { HostResult } from '../host/activate.js';
import type { Phase } from '../host/session.js';
import type { StagedHost } from '../host/staged.js';
import type { Log } from '../log.js';
import type { Connection } from './connect.js';
import { grouping, type Grouped } from './host-logs.js';
import { mapLimit } from './parallel.js';
import type { ReleaseCommandReport } from './release-command.js';

/**
 * What a host runs: a release, nothing (no `current`), or not known (the host could not be
 * reached to read it).
 */
export type Runs = { kind: 'release'; id: string } | { kind: 'nothing' } | { kind: 'unknown' };

const UNKNOWN: Runs = { kind: 'unknown' };

export function describeRuns(runs: Runs): string {
  return runs.kind === 'release' ? runs.id : runs.kind === 'nothing' ? 'nothing' : 'not reached';
}

function runsOf(id: string | undefined): Runs {
  return id === undefined ? { kind: 'nothing' } : { kind: 'release', id };
}

/** What one host did in this step, and where it stands after it: computed once, read by all. */
export interface HostOutcome {
  host: string;
  /** False for a host never started because an earlier one failed. */
  reached: boolean;
  /** Whether the step got as far as switching `current` on the host (even if it switched back). */
  switched: boolean;
  /** What the host ran before the step. */
  before: Runs;
  /**
   * What it runs after the step: from the step's own result, or read back from the host when
   * the step broke off or never started there; unknown when the host could not be reached.
   */
  after: Runs;
  /** Whether what it runs after came up (restart and health check); undefined when not checked. */
  healthy: boolean | undefined;
  /** The first thing that went wrong on this host. */
  failure: Error | undefined;
  /** The host's deploy or rollback, when it ran to the end. */
  result?: HostResult;
  /** Why the deploy or rollback stopped before its end (lock held, disk full, …). */
  error?: Error;
  /**
   * Locked with the release on it but never switched: the release command failed, or another
   * host did. It runs what it ran before.
   */
  heldBack?: 'release-command' | 'another-host';
  /** After another host failed: this host put back on what it ran before. */
  putBack?: HostResult;
  putBackError?: Error;
}

export interface RolloutOptions {
  parallel: number;
  onFailure: 'rollback' | 'stop';
  /**
   * Locks one host and puts the release on it, nothing switched yet (a deploy's or a rollback's
   * first half), logging to `log` (the host's own group); a failure is a thrown error. Its
   * `activate()` is the second half.
   */
  stage: (connection: Connection, onPhase: (phase: Phase) => void, log: Log) => Promise<StagedHost>;
  /**
   * The release phase: run once every host holds the release and its lock, before any switch.
   * When it fails, no host is switched and each records why.
   */
  releasePhase?: (staged: readonly StagedHost[]) => Promise<ReleaseCommandReport>;
  /** Puts a host switched in this step back on `to`, when another host failed. */
  putBack: (connection: Connection, to: string, log: Log) => Promise<HostResult>;
  /** What a host runs now, read from it: for a host whose step did not say. */
  current: (connection: Connection) => Promise<string | undefined>;
  log: Log;
  /** The name of each host's log group, e.g. `deploy@web-1: deploy v3`. */
  title: (host: string) => string;
}

/** What a rollout did: each host's outcome, and its release command's. */
export interface Rollout {
  outcomes: HostOutcome[];
  releaseCommand: ReleaseCommandReport | undefined;
}

/** How far the step got on one host, before any host is put back. */
interface Attempt {
  staged?: StagedHost;
  result?: HostResult;
  error?: Error;
  switched: boolean;
  heldBack?: HostOutcome['heldBack'];
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function newAttempt(): { attempt: Attempt; onPhase: (phase: Phase) => void } {
  const attempt: Attempt = { switched: false };
  const onPhase = (phase: Phase) => {
    if (phase === 'switch') attempt.switched = true;
  };
  return { attempt, onPhase };
}

function failedAttempt(attempt: Attempt | undefined): boolean {
  return (attempt?.error ?? attempt?.result?.failure) !== undefined;
}

/** Each host's attempt, by index; undefined for a host never started. */
function byHost(
  connections: readonly Connection[],
  settled: PromiseSettledResult<Attempt>[],
): (Attempt | undefined)[] {
  // Map over the connections, since map skips the holes left by hosts never started.
  return connections.map((_, index) => {
    const attempt = settled[index];
    return attempt?.status === 'fulfilled' ? attempt.value : undefined;
  });
}

/**
 * Rolls a release across hosts, at most `parallel` at once. After the first failure no new host
 * is started; with `on-failure: rollback`, every host this step switched goes back to the release
 * it ran before, so the fleet does not stay split across two releases. With a release phase,
 * every host first takes the release (locked, not switched), then the phase runs, then the hosts
 * switch.
 */
export async function rollout(
  connections: readonly Connection[],
  options: RolloutOptions,
): Promise<Rollout> {
  const { group, printed } = grouping(connections.length, options);
  const { attempts, releaseCommand } = options.releasePhase
    ? await phased(connections, { ...options, group }, options.releasePhase)
    : { attempts: await rolling(connections, { ...options, group }), releaseCommand: undefined };
  const failed = attempts.some(failedAttempt);
  const putBack =
    failed && options.onFailure === 'rollback'
      ? await putBackSwitched(connections, attempts, { ...options, group })
      : new Map<number, PutBack>();
  const outcomes = connections.map((connection, index) => {
    const attempt = attempts[index];
    const host = connection.host.label;
    return attempt ? outcomeOf(host, attempt, putBack.get(index)) : notStarted(host);
  });
  await mapLimit(outcomes, options.parallel, async (outcome, index) => {
    if (outcome.after.kind !== 'unknown') return;
    const now = await readBack(connections[index]!, options);
    outcome.after = now;
    // A host the step never switched still runs what it ran before.
    if (!outcome.switched) outcome.before = now;
  });
  await printed();
  return { outcomes, releaseCommand };
}

/** What a host runs, read from it; when its connection dropped, connected again once to read. */
async function readBack(connection: Connection, options: RolloutOptions): Promise<Runs> {
  try {
    return runsOf(await options.current(connection));
  } catch {
    try {
      await connection.reconnect();
      return runsOf(await options.current(connection));
    } catch (error) {
      options.log.debug(`host ${connection.host.label}: not reached: ${asError(error).message}`);
      return UNKNOWN;
    }
  }
}

type Grouping = RolloutOptions & { group: Grouped };

/** Runs `work` for an attempt, keeping what it throws as the attempt's error. */
async function settle(attempt: Attempt, work: () => Promise<void>): Promise<Attempt> {
  try {
    await work();
  } catch (error) {
    attempt.error = asError(error);
  }
  return attempt;
}

/** `step` on each item, at most `parallel` at once; after the first failure none starts. */
function untilFailure<T>(
  items: readonly T[],
  parallel: number,
  step: (item: T) => Promise<Attempt>,
): Promise<PromiseSettledResult<Attempt>[]> {
  let failed = false;
  return mapLimit(
    items,
    parallel,
    async (item) => {
      const attempt = await step(item);
      if (failedAttempt(attempt)) failed = true;
      return attempt;
    },
    () => !failed,
  );
}

/** Each host staged and switched in one go, one after another. */
async function rolling(
  connections: readonly Connection[],
  options: Grouping,
): Promise<(Attempt | undefined)[]> {
  const settled = await untilFailure(connections, options.parallel, (connection) => {
    const { attempt, onPhase } = newAttempt();
    const index = connections.indexOf(connection);
    return options.group(index, options.title(connection.host.label), (log) =>
      settle(attempt, async () => {
        attempt.result = await (await options.stage(connection, onPhase, log)).activate();
      }),
    );
  });
  return byHost(connections, settled);
}

/**
 * Every host staged (locked, holding the release), then the release phase, then the switches:
 * the locks stay held from the first phase to each host's end.
 */
async function phased(
  connections: readonly Connection[],
  options: Grouping,
  releasePhase: NonNullable<RolloutOptions['releasePhase']>,
): Promise<{ attempts: (Attempt | undefined)[]; releaseCommand?: ReleaseCommandReport }> {
  const { parallel } = options;
  const staging = await untilFailure(connections, parallel, (connection) => {
    const { attempt, onPhase } = newAttempt();
    const index = connections.indexOf(connection);
    const title = `${options.title(connection.host.label)}: receive`;
    return options.group(index, title, (log) =>
      settle(attempt, async () => {
        attempt.staged = await options.stage(connection, onPhase, log);
      }),
    );
  });
  const attempts = byHost(connections, staging);
  const staged = attempts.flatMap((a) => (a?.staged ? [a] : []));
  if (attempts.some(failedAttempt)) {
    await letGo(staged, parallel, 'another-host');
    return { attempts };
  }
  let report: ReleaseCommandReport;
  try {
    report = await releasePhase(staged.map((a) => a.staged!));
  } catch (error) {
    await letGo(staged, parallel, 'release-command');
    throw error;
  }
  if (report.status === 'failed') {
    await letGo(staged, parallel, 'release-command', report.reason ?? 'failed');
    return { attempts, releaseCommand: report };
  }
  await untilFailure(staged, parallel, (attempt) => {
    const index = attempts.indexOf(attempt);
    const title = `${options.title(connections[index]!.host.label)}: switch`;
    return options.group(index, title, () =>
      settle(attempt, async () => {
        attempt.result = await attempt.staged!.activate();
      }),
    );
  });
  const waiting = staged.filter((a) => !a.result && !a.error);
  await letGo(waiting, parallel, 'another-host');
  return { attempts, releaseCommand: report };
}

/** Unlocks staged hosts without switching them; a failed release command is recorded on each. */
async function letGo(
  attempts: readonly Attempt[],
  parallel: number,
  why: NonNullable<Attempt['heldBack']>,
  releaseCommandFailure?: string,
): Promise<void> {
  await mapLimit(attempts, parallel, async (attempt) => {
    attempt.heldBack = why;
    await attempt.staged?.abandon(releaseCommandFailure);
  });
}

type PutBack = { result: HostResult } | { error: Error };

async function putBackSwitched(
  connections: readonly Connection[],
  attempts: readonly (Attempt | undefined)[],
  options: Grouping,
): Promise<Map<number, PutBack>> {
  const switched = attempts.flatMap((attempt, index) => {
    const result = attempt?.result;
    const moved =
      result !== undefined &&
      result.failure === undefined &&
      result.previousId !== undefined &&
      result.previousId !== result.releaseId;
    return moved ? [{ index, to: result.previousId! }] : [];
  });
  if (switched.length > 0) {
    const which = switched.map((s) => `${connections[s.index]!.host.label} back on ${s.to}`);
    // The failure is the step's one annotation; this is a line of the log.
    options.log.info(`Another host failed: putting ${which.join(', ')}`);
  }
  const done = new Map<number, PutBack>();
  await mapLimit(switched, options.parallel, async ({ index, to }) => {
    const connection = connections[index]!;
    const title = `${connection.host.label}: put back on ${to}`;
    const back = await options
      .group(index, title, (log) => options.putBack(connection, to, log))
      .then(
        (result): PutBack => ({ result }),
        (error: unknown): PutBack => ({ error: asError(error) }),
      );
    done.set(index, back);
  });
  return done;
}

function notStarted(host: string): HostOutcome {
  return {
    host,
    reached: false,
    switched: false,
    before: UNKNOWN,
    after: UNKNOWN,
    healthy: undefined,
    failure: undefined,
  };
}

/** Whether what a finished deploy or rollback left current came up. */
function healthOf(result: HostResult): boolean | undefined {
  if (result.result === 'failed') return undefined;
  if (result.result === 'failed-rolled-back')
    return result.failure?.switchBackProblem === undefined;
  return true;
}

function failureOf(result: HostResult | undefined): Error | undefined {
  return result?.failure ? new ConfigurationError(result.failure.problem) : undefined;
}

function outcomeOf(host: string, attempt: Attempt, back: PutBack | undefined): HostOutcome {
  const { result, error } = attempt;
  const common = { host, reached: true, switched: attempt.switched };
  if (attempt.heldBack && attempt.staged) {
    const runs = runsOf(attempt.staged.current);
    const { heldBack } = attempt;
    return {
      ...common,
      before: runs,
      after: runs,
      healthy: undefined,
      failure: undefined,
      heldBack,
    };
  }
  if (!result) {
    return {
      ...common,
      before: UNKNOWN,
      after: UNKNOWN,
      healthy: undefined,
      failure: error,
      error,
    };
  }
  const before = runsOf(result.previousId);
  if (back === undefined) {
    const after = runsOf(result.currentId);
    return {
      ...common,
      before,
      after,
      healthy: healthOf(result),
      failure: failureOf(result),
      result,
    };
  }
  if ('error' in back) {
    const { error: putBackError } = back;
    const failure = putBackError;
    return { ...common, before, after: UNKNOWN, healthy: undefined, failure, result, putBackError };
  }
  const putBack = back.result;
  const after = runsOf(putBack.currentId);
  const failure = failureOf(putBack);
  return { ...common, before, after, healthy: healthOf(putBack), failure, result, putBack };
}
