import { ConfigurationError, formatError } from '../errors.js';
import { releaseCommandError, type ReleaseCommandReport } from './release-command.js';
import { describeRuns, type HostOutcome, type Runs } from './rollout.js';

/** What a step did to the fleet as a whole: what the outputs, the summary and the error line say. */
export interface FleetResult {
  /** The release every host runs after the step; undefined when they differ, or any is not known. */
  release: string | undefined;
  /** The release every host ran before, when they all ran the same one. */
  before: string | undefined;
  /** Hosts known to run different things after the step. */
  split: boolean;
  failed: boolean;
  /** Whether any host went back to what it ran before. */
  rolledBack: boolean;
  /** One line: what happened overall. */
  headline: string;
  /** What the step fails with: the one host's own error, or a line for the fleet. */
  failure: Error | undefined;
}

function key(runs: Runs): string {
  return runs.kind === 'release' ? `release ${runs.id}` : runs.kind;
}

/** The one thing every host runs, when they all run the same known thing. */
function common(all: readonly Runs[]): Runs | undefined {
  const first = all[0];
  if (!first || first.kind === 'unknown') return undefined;
  return all.every((runs) => key(runs) === key(first)) ? first : undefined;
}

/** Where the fleet stands after a failure, in words. */
function where(outcomes: readonly HostOutcome[], releaseId: string, split: boolean): string {
  if (!outcomes.some((o) => o.switched)) return 'no host was changed';
  const all = common(outcomes.map((o) => o.after));
  const each = outcomes
    .map((o) =>
      o.after.kind === 'unknown' ? `${o.host} unknown` : `${o.host} on ${describeRuns(o.after)}`,
    )
    .join(', ');
  if (all === undefined) {
    return split ? `the hosts are split: ${each}` : `what every host runs is not known: ${each}`;
  }
  if (all.kind === 'nothing') return 'nothing is current';
  const id = describeRuns(all);
  return id === releaseId ? `the hosts run ${id}` : `the hosts are back on ${id}`;
}

/** The hosts whose release did not come up, for the headline; each host's own line says why. */
function unhealthy(outcomes: readonly HostOutcome[]): string {
  const hosts = outcomes.filter((o) => o.healthy === false).map((o) => o.host);
  return hosts.length > 0 ? ` (not healthy on ${hosts.join(', ')})` : '';
}

/**
 * Decides what a rollout comes to: what the fleet runs, whether it is split, whether the step
 * failed, and the lines that say so. Pure: it reads only the hosts' outcomes.
 */
export function fleetResult(
  outcomes: readonly HostOutcome[],
  step: { releaseId: string; rollback: boolean; releaseCommand?: ReleaseCommandReport },
): FleetResult {
  const commandFailure = step.releaseCommand && releaseCommandError(step.releaseCommand);
  const afters = outcomes.map((o) => o.after);
  const known = new Set(afters.filter((runs) => runs.kind !== 'unknown').map(key));
  const split = known.size > 1;
  const failures = [
    ...(commandFailure ? [commandFailure] : []),
    ...outcomes.flatMap((o) => (o.failure ? [o.failure] : [])),
  ];
  const all = common(afters);
  const before = common(outcomes.map((o) => o.before));
  const count = `${outcomes.length} host${outcomes.length === 1 ? '' : 's'}`;
  const place = failures.length > 0 ? where(outcomes, step.releaseId, split) : '';
  const first = failures[0];
  // A failed release command stops the step before any host's own failure can happen.
  const failure =
    first === undefined
      ? undefined
      : outcomes.length === 1 || commandFailure
        ? first
        : new ConfigurationError({
            problem: `${failures.length} of ${outcomes.length} hosts failed, ${place}: ${failures.map(formatError).join('; ')}`,
          });
  return {
    release: all?.kind === 'release' ? all.id : undefined,
    before: before?.kind === 'release' ? before.id : undefined,
    split,
    failed: failures.length > 0,
    rolledBack: outcomes.some(
      (o) => o.putBack !== undefined || o.result?.result === 'failed-rolled-back',
    ),
    headline:
      failures.length > 0
        ? `failed${commandFailure ? ' in the release command' : ''}, ${place}${unhealthy(outcomes)}`
        : step.rollback
          ? `rolled back on ${count}`
          : `deployed to ${count}`,
    failure,
  };
}
