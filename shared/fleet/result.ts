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
  /** Whether the step switched `current` on any host (even if it switched back). */
  changed: boolean;
  /** Whether any host went back to what it ran before. */
  rolledBack: boolean;
  /** One line: what happened and what runs where, as plain text. */
  headline: string;
  /** The same line for markdown: host names in code spans, so they are never made links. */
  headlineMarkdown: string;
  /** What the step fails with: what runs where first, then each failed host's own line. */
  failure: Error | undefined;
}

export interface Step {
  releaseId: string;
  rollback: boolean;
  /** What the release command did, when the step ran one. */
  releaseCommand?: ReleaseCommandReport;
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

/** How the words name a host: as it is in plain text, in a code span in markdown. */
type Name = (host: string) => string;

function list(hosts: readonly string[], name: Name): string {
  return hosts.map(name).join(', ');
}

function be(count: number): string {
  return count === 1 ? 'is' : 'are';
}

/** What hosts on `id` do, in words: "run v2", or "are back on v1" when the step moved them. */
function stands(hosts: readonly HostOutcome[], id: string, step: Step): string {
  const back = id !== step.releaseId && hosts.some((o) => o.switched);
  return back
    ? `${be(hosts.length)} back on ${id}`
    : `${hosts.length === 1 ? 'runs' : 'run'} ${id}`;
}

/**
 * Where one release stands on the hosts that run it: who is down on it, who runs it fine.
 * `subject` names all of them ("the hosts", "`web-1`").
 */
function onRelease(
  outcomes: readonly HostOutcome[],
  id: string,
  context: { step: Step; subject: string; name: Name },
): string {
  const { step, subject, name } = context;
  const down = outcomes.filter((o) => o.healthy === false).map((o) => o.host);
  if (down.length === 0) return `${subject} ${stands(outcomes, id, step)}`;
  const came =
    id === step.releaseId ? `${id} did not come up` : `back on ${id}, which did not come up either`;
  if (down.length === outcomes.length) return `${subject} ${be(outcomes.length)} down: ${came}`;
  const others = outcomes.filter((o) => o.healthy !== false);
  return `${list(down, name)} ${be(down.length)} down (${came}); the other${others.length === 1 ? '' : 's'} ${stands(others, id, step)}`;
}

/** The known hosts, by what they run: each release once, in the order the hosts come. */
function byRelease(outcomes: readonly HostOutcome[]): Map<string, HostOutcome[]> {
  const groups = new Map<string, HostOutcome[]>();
  for (const outcome of outcomes) {
    if (outcome.after.kind === 'unknown') continue;
    const k = key(outcome.after);
    groups.set(k, [...(groups.get(k) ?? []), outcome]);
  }
  return groups;
}

/** The hosts that could not be read after the step, and what the step did to them. */
function notReached(outcomes: readonly HostOutcome[], step: Step, name: Name): string | undefined {
  const lost = outcomes.filter((o) => o.after.kind === 'unknown');
  if (lost.length === 0) return undefined;
  const switched = lost.filter((o) => o.switched).map((o) => o.host);
  const unchanged = lost.filter((o) => !o.switched).map((o) => o.host);
  const parts: string[] = [];
  if (switched.length > 0) {
    parts.push(
      `${list(switched, name)} not reached after switching to ${step.releaseId}: what ${switched.length === 1 ? 'it runs' : 'they run'} is not known`,
    );
  }
  if (unchanged.length > 0) {
    parts.push(`${list(unchanged, name)} not reached (not changed by this step)`);
  }
  return parts.join('; ');
}

/** What runs where after the step, in words: the truth a person acts on. */
export function whereTheHostsStand(
  outcomes: readonly HostOutcome[],
  step: Step,
  name: Name = (host) => host,
): string {
  const changed = outcomes.some((o) => o.switched);
  const groups = byRelease(outcomes);
  const lost = notReached(outcomes, step, name);
  const known = [...groups.values()].flat();
  const subject =
    known.length === 1
      ? name(known[0]!.host)
      : lost !== undefined
        ? 'the other hosts'
        : 'the hosts';
  let state: string | undefined;
  if (groups.size === 1) {
    const first = known[0]!.after;
    state =
      first.kind === 'release'
        ? onRelease(known, first.id, { step, subject, name })
        : `nothing is current${
            lost !== undefined || known.length === 1
              ? ` on ${list(
                  known.map((o) => o.host),
                  name,
                )}`
              : ''
          }`;
  } else if (groups.size > 1) {
    const parts = [...groups.values()].flatMap((hosts) => {
      const runs = describeRuns(hosts[0]!.after);
      const down = hosts.filter((o) => o.healthy === false).map((o) => o.host);
      const up = hosts.filter((o) => o.healthy !== false).map((o) => o.host);
      return [
        ...(up.length ? [`${list(up, name)} on ${runs}`] : []),
        ...(down.length ? [`${list(down, name)} on ${runs} (down: it did not come up)`] : []),
      ];
    });
    state = `the hosts are split: ${parts.join('; ')}`;
  }
  const where = [state, lost].filter((part) => part !== undefined).join('; ');
  if (changed) return where;
  return where === '' ? 'nothing changed' : `nothing changed: ${where}`;
}

/**
 * The step's error line: what runs where first, then why, each failed host's own line (or the
 * release command's, which stops the step before any host can fail on its own).
 */
function failureLine(
  outcomes: readonly HostOutcome[],
  step: Step & { commandFailure: Error | undefined },
  where: string,
): Error {
  const doing = step.rollback ? `Rolling back to ${step.releaseId}` : `Deploying ${step.releaseId}`;
  if (step.commandFailure) {
    return new ConfigurationError({
      problem: `${doing} failed in the release command, ${where}: ${formatError(step.commandFailure)}`,
    });
  }
  const failed = outcomes.filter((o) => o.failure !== undefined);
  const hosts = failed.map((o) => o.host).join(', ');
  const reasons = failed.map((o) => formatError(o.failure)).join('; ');
  return new ConfigurationError({ problem: `${doing} failed on ${hosts}, ${where}: ${reasons}` });
}

/**
 * Decides what a rollout comes to: what the fleet runs, whether it is split, whether the step
 * failed, and the lines that say so. Pure: it reads only the hosts' outcomes.
 */
export function fleetResult(outcomes: readonly HostOutcome[], step: Step): FleetResult {
  const commandFailure = step.releaseCommand && releaseCommandError(step.releaseCommand);
  const afters = outcomes.map((o) => o.after);
  const known = new Set(afters.filter((runs) => runs.kind !== 'unknown').map(key));
  const failed = commandFailure !== undefined || outcomes.some((o) => o.failure !== undefined);
  const all = common(afters);
  const before = common(outcomes.map((o) => o.before));
  const count = `${outcomes.length} host${outcomes.length === 1 ? '' : 's'}`;
  const done = step.rollback ? `rolled back on ${count}` : `deployed to ${count}`;
  const plain = whereTheHostsStand(outcomes, step);
  const markdown = whereTheHostsStand(outcomes, step, (host) => `\`${host}\``);
  const how = `failed${commandFailure ? ' in the release command' : ''}`;
  return {
    release: all?.kind === 'release' ? all.id : undefined,
    before: before?.kind === 'release' ? before.id : undefined,
    split: known.size > 1,
    failed,
    changed: outcomes.some((o) => o.switched),
    rolledBack: outcomes.some(
      (o) => o.putBack !== undefined || o.result?.result === 'failed-rolled-back',
    ),
    headline: failed ? `${how}, ${plain}` : done,
    headlineMarkdown: failed ? `${how}, ${markdown}` : done,
    failure: failed ? failureLine(outcomes, { ...step, commandFailure }, plain) : undefined,
  };
}
