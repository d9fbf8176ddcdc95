import { ConfigurationError, foldedTail, formatError } from '../errors.js';
import type { CommandRun } from '../host/activate.js';
import type { StagedHost } from '../host/staged.js';
import type { Log } from '../log.js';
import { LiveOutput } from '../host/live-output.js';

/** The `release-command` inputs: what runs once per deploy, where, for how long. */
export interface ReleaseCommand {
  command: string;
  timeoutSeconds: number;
  /** The `hosts` line of the host it runs on. */
  host: string;
  /** Run it on a return to a release too (`release-command-on-rollback`). */
  onReturn: boolean;
}

/** What became of the release command in a step: for the log, the summary and the failure. */
export interface ReleaseCommandReport {
  command: string;
  host: string;
  releaseId: string;
  /** passed / failed: it ran. skipped: a return to a release. would-run / would-skip: a dry run. */
  status: 'passed' | 'failed' | 'skipped' | 'would-run' | 'would-skip';
  /** How it ended, when it ran to an exit or a timeout. */
  run?: Omit<CommandRun, 'fullOutput'>;
  timeoutSeconds: number;
  /** Why it was skipped, or why it failed: one line, for the history and the summary. */
  reason?: string;
  /** The error that stopped it before it could end (the connection dropped). */
  error?: Error;
}

/** A command as one line, for a log group's title or a summary: its first line, marked if more. */
export function commandLine(command: string): string {
  const lines = command.trim().split(/\r?\n/);
  return lines.length > 1 ? `${lines[0]!.trim()} …` : (lines[0] ?? '');
}

/**
 * The `release-command` inputs checked: the host it runs on is one of `hosts` (by default the
 * first); naming a host without a command is a mistake.
 */
export function releaseCommandFrom(inputs: {
  command: string | undefined;
  host: string | undefined;
  hosts: readonly { label: string }[];
  timeoutSeconds: number;
  onReturn: boolean;
}): ReleaseCommand | undefined {
  const { command } = inputs;
  if (command === undefined) {
    if (inputs.host === undefined) return undefined;
    throw new ConfigurationError({
      input: 'release-command-host',
      problem: 'set, but release-command is not',
    });
  }
  const labels = inputs.hosts.map((host) => host.label);
  const host = inputs.host?.trim() ?? labels[0] ?? '';
  if (!labels.includes(host)) {
    throw new ConfigurationError({
      input: 'release-command-host',
      expected: `one of the hosts lines (${labels.join(', ')})`,
      got: host,
    });
  }
  return { command, timeoutSeconds: inputs.timeoutSeconds, host, onReturn: inputs.onReturn };
}

/** What a dry run says of the release command: where it would run, or why it would not. */
export function plannedReleaseCommand(
  releaseCommand: ReleaseCommand | undefined,
  releaseId: string,
  hosts: readonly { host: string; wasCurrent: boolean }[],
): ReleaseCommandReport | undefined {
  if (!releaseCommand) return undefined;
  const base = {
    command: releaseCommand.command,
    host: releaseCommand.host,
    releaseId,
    timeoutSeconds: releaseCommand.timeoutSeconds,
  };
  const returning = hosts.filter((h) => h.wasCurrent).map((h) => h.host);
  return returning.length > 0 && !releaseCommand.onReturn
    ? { ...base, status: 'would-skip', reason: returnReason(releaseId, returning) }
    : { ...base, status: 'would-run' };
}

/** The dry run's log line about the release command. */
export function describePlan(report: ReleaseCommandReport): string {
  const where = `on ${report.host} in releases/${report.releaseId}`;
  return report.status === 'would-run'
    ? `release command: would run ${JSON.stringify(commandLine(report.command))} ${where} (.env exported, timeout ${report.timeoutSeconds} s), once, after every host has ${report.releaseId} and before any switch`
    : `release command: would not run ${JSON.stringify(commandLine(report.command))}: ${report.reason ?? ''}`;
}

/** The host the release command runs on: the one `release-command-host` names. */
function runsOn<T extends { label: string }>(hosts: readonly T[], label: string): T {
  const host = hosts.find((h) => h.label === label);
  if (!host) throw new Error(`the release command host ${label} is not among the hosts`);
  return host;
}

/** Why a release command is not run: the release was current before (a rollback). */
function returnReason(releaseId: string, returning: readonly string[]): string {
  return `${releaseId} was current before on ${returning.join(', ')}: a return to it, whose release command ran when it first went out`;
}

/**
 * The release phase of a deploy: runs the release command once, on its host, in the new release
 * with its `.env`, while every host holds the release and its lock and none has switched. A
 * return to a release that was current before skips it unless `onReturn`.
 */
export function releasePhase(
  options: ReleaseCommand & { log: Log },
): (staged: readonly StagedHost[]) => Promise<ReleaseCommandReport> {
  const { command, log } = options;
  return async (staged) => {
    const on = runsOn(staged, options.host);
    const base = {
      command,
      host: on.label,
      releaseId: on.releaseId,
      timeoutSeconds: options.timeoutSeconds,
    };
    const returning = staged.filter((s) => s.wasCurrent).map((s) => s.label);
    if (returning.length > 0 && !options.onReturn) {
      const reason = returnReason(on.releaseId, returning);
      log.info(`Release command not run: ${reason} (release-command-on-rollback: true runs it)`);
      return { ...base, status: 'skipped', reason };
    }
    const title = `Release command on ${on.label} in releases/${on.releaseId}: ${commandLine(command)}`;
    return log.group(title, async () => {
      let run: CommandRun;
      // Its output shows as it comes: a long migration is watched, not waited for.
      const live = new LiveOutput(log);
      try {
        run = await on.runCommand(command, options.timeoutSeconds, live.write);
      } catch (error) {
        live.end();
        const reason = `the release command did not finish on ${on.label}: ${formatError(error)}`;
        log.info(reason);
        const stopped = error instanceof Error ? error : new Error(String(error));
        return { ...base, status: 'failed', reason, error: stopped };
      }
      live.end();
      const ended = {
        ok: run.ok,
        code: run.code,
        timedOut: run.timedOut,
        output: run.output,
        seconds: run.seconds,
      };
      const how = describeEnd(ended, options.timeoutSeconds);
      log.info(`The release command ${how} (${ended.seconds.toFixed(1)} s)`);
      if (ended.ok) return { ...base, status: 'passed', run: ended };
      return {
        ...base,
        status: 'failed',
        run: ended,
        reason: `release command ${how} on ${on.label}`,
      };
    });
  };
}

function describeEnd(run: Omit<CommandRun, 'fullOutput'>, timeoutSeconds: number): string {
  if (run.ok) return 'passed';
  if (run.timedOut) return `did not finish within ${timeoutSeconds} s`;
  return run.code !== null ? `failed (exit ${run.code})` : 'was stopped (no exit status)';
}

/** The one line a failed release command fails the step with: where, how, the tail. */
export function releaseCommandError(report: ReleaseCommandReport): ConfigurationError | undefined {
  if (report.status !== 'failed') return undefined;
  const subject = `host ${report.host}`;
  if (report.error) {
    return new ConfigurationError({
      subject,
      problem: `the release command for ${report.releaseId} did not finish: ${formatError(report.error)}; no host was switched`,
    });
  }
  const how = report.run ? describeEnd(report.run, report.timeoutSeconds) : 'failed';
  const tail = report.run?.output ? `; last output: ${foldedTail(report.run.output)}` : '';
  return new ConfigurationError({
    subject,
    problem: `the release command ${how} for ${report.releaseId}; no host was switched${tail}`,
  });
}
