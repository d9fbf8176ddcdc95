import { ConfigurationError } from '../errors.js';
import type { HostResult } from '../host/activate.js';
import type { Phase } from '../host/session.js';
import type { Log } from '../log.js';
import type { Connection } from './connect.js';
import { mapLimit } from './parallel.js';

/** What a host runs: a release, nothing (no `current`), or not known (the step broke off there). */
export type Runs = { kind: 'release'; id: string } | { kind: 'nothing' } | { kind: 'unknown' };

const UNKNOWN: Runs = { kind: 'unknown' };

export function describeRuns(runs: Runs): string {
  return runs.kind === 'release' ? runs.id : runs.kind;
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
  /** What it runs after the step; for a host not reached, read from it afterwards. */
  after: Runs;
  /** Whether what it runs after came up (restart and health check); undefined when not known. */
  healthy: boolean | undefined;
  /** The first thing that went wrong on this host. */
  failure: Error | undefined;
  /** The host's deploy or rollback, when it ran to the end. */
  result?: HostResult;
  /** Why the deploy or rollback stopped before its end (lock held, disk full, …). */
  error?: Error;
  /** After another host failed: this host put back on what it ran before. */
  putBack?: HostResult;
  putBackError?: Error;
}

export interface RolloutOptions {
  parallel: number;
  onFailure: 'rollback' | 'stop';
  /** Deploys (or rolls back) one host; a failure is a thrown error or a result with `failure`. */
  step: (connection: Connection, onPhase: (phase: Phase) => void) => Promise<HostResult>;
  /** Puts a host switched in this step back on `to`, when another host failed. */
  putBack: (connection: Connection, to: string) => Promise<HostResult>;
  /** What a host not reached runs: for the report. */
  current: (connection: Connection) => Promise<string | undefined>;
  log: Log;
}

/** How far the step got on one host, before any host is put back. */
interface Attempt {
  result?: HostResult;
  error?: Error;
  switched: boolean;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Rolls a release across hosts, at most `parallel` at once. After the first failure no new host
 * is started; with `on-failure: rollback`, every host this step switched goes back to the release
 * it ran before, so the fleet does not stay split across two releases.
 */
export async function rollout(
  connections: readonly Connection[],
  options: RolloutOptions,
): Promise<HostOutcome[]> {
  let failed = false;
  const settled = await mapLimit(
    connections,
    options.parallel,
    async (connection): Promise<Attempt> => {
      const attempt: Attempt = { switched: false };
      const onPhase = (phase: Phase) => {
        if (phase === 'switch') attempt.switched = true;
      };
      try {
        attempt.result = await options.step(connection, onPhase);
      } catch (error) {
        attempt.error = asError(error);
      }
      if (attempt.error ?? attempt.result?.failure) failed = true;
      return attempt;
    },
    () => !failed,
  );
  // Hosts never started have no entry: map over the connections, since map skips array holes.
  const attempts = connections.map((_, index) => {
    const attempt = settled[index];
    return attempt?.status === 'fulfilled' ? attempt.value : undefined;
  });
  const notReached = await readNotReached(connections, attempts, options);
  const putBack =
    failed && options.onFailure === 'rollback'
      ? await putBackSwitched(connections, attempts, options)
      : new Map<number, PutBack>();
  return connections.map((connection, index) => {
    const attempt = attempts[index];
    const host = connection.host.label;
    return attempt
      ? outcomeOf(host, attempt, putBack.get(index))
      : notReachedOutcome(host, notReached.get(index) ?? UNKNOWN);
  });
}

async function readNotReached(
  connections: readonly Connection[],
  attempts: readonly (Attempt | undefined)[],
  options: RolloutOptions,
): Promise<Map<number, Runs>> {
  const indexes = attempts.flatMap((attempt, index) => (attempt ? [] : [index]));
  const read = new Map<number, Runs>();
  await mapLimit(indexes, options.parallel, async (index) => {
    const current = await options.current(connections[index]!).then(runsOf, () => UNKNOWN);
    read.set(index, current);
  });
  return read;
}

type PutBack = { result: HostResult } | { error: Error };

async function putBackSwitched(
  connections: readonly Connection[],
  attempts: readonly (Attempt | undefined)[],
  options: RolloutOptions,
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
    options.log.warning(`Putting ${which.join(', ')}`);
  }
  const done = new Map<number, PutBack>();
  await mapLimit(switched, options.parallel, async ({ index, to }) => {
    const back = await options.putBack(connections[index]!, to).then(
      (result): PutBack => ({ result }),
      (error: unknown): PutBack => ({ error: asError(error) }),
    );
    done.set(index, back);
  });
  return done;
}

function notReachedOutcome(host: string, current: Runs): HostOutcome {
  return {
    host,
    reached: false,
    switched: false,
    before: current,
    after: current,
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
