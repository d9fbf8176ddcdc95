import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { foldedTail, type Problem } from '../errors.js';
import { historyLine, type HistoryEvent } from './history.js';
import { logOutput } from '../log.js';
import { LiveOutput } from './live-output.js';
import { commandScript } from './scripts/command.js';
import { switchScript, unsetCurrentScript } from './scripts/release.js';
import { EXIT, appendHistoryScript } from './scripts/root.js';
import type { HostSession } from './session.js';

/** How long a restart may take before it counts as failed. */
const RESTART_TIMEOUT_SECONDS = 600;

/** The user's commands that bring a release up once it is current. */
export interface Commands {
  /** Shell command run in the release directory after the switch, `.env` exported. */
  restart?: string;
  /** Shell command retried until it exits 0 or the health timeout passes. */
  healthCheck?: string;
  healthTimeoutSeconds: number;
  /** Seconds between health checks. Default 1. */
  healthIntervalSeconds?: number;
}

export interface HostFailure {
  step: 'restart' | 'health-check';
  /** What went wrong, in a few words: `restart failed`, `health check failed for 60 s (31 attempts)`. */
  what: string;
  /** What failed, what the host runs now, the tail of the output: as data. */
  problem: Problem;
  /** The same as one line. */
  message: string;
  /** The last lines the failing command printed. */
  output: string;
  /** How the release we went back to came up, when it did not. */
  switchBackProblem?: string;
  /** The last lines its failing command printed. */
  switchBackOutput?: string;
}

/** What a deploy or a rollback did on one host. */
export interface HostResult {
  host: string;
  releaseId: string;
  /**
   * activated / rolled-back: the release is current and healthy. failed-rolled-back: it failed
   * and the one before is current again. failed: it failed with nothing to go back to; nothing
   * is current.
   */
  result: 'activated' | 'rolled-back' | 'failed-rolled-back' | 'failed';
  /** What was current before. */
  previousId: string | undefined;
  /** What is current now. */
  currentId: string | undefined;
  skippedUpload: boolean;
  /** Bytes sent to the host's commands: the bundle and the release files. */
  bytesSent: number;
  pruned: string[];
  seconds: number;
  failure?: HostFailure;
}

export interface ActivateOptions {
  session: HostSession;
  /** The lock's token: each switch happens only while the lock is ours. */
  token: string;
  commands: Commands;
  /** The release to make current. */
  id: string;
  /** What to make current again if it fails; with none, nothing is left current. */
  fallback: string | undefined;
  /** How the history names a success: a deploy activates, a rollback rolls back. */
  kind: 'activated' | 'rolled-back';
  /** What was current before, for the history. */
  from: string | undefined;
  /** The bundle's digest, for the history. */
  digest: string | undefined;
  /** Who deploys, and the run's URL: for the history. */
  by: string;
  run: string | undefined;
}

export interface Activation {
  result: HostResult['result'];
  currentId: string | undefined;
  failure?: HostFailure;
  /** History events to record. */
  events: HistoryEvent[];
}

/** A deploy's or rollback's result, from its activation and what the step did around it. */
export function hostResult(
  session: HostSession,
  activation: Activation,
  step: Pick<HostResult, 'releaseId' | 'previousId' | 'skippedUpload' | 'pruned'>,
): HostResult {
  return {
    host: session.label,
    ...step,
    result: activation.result,
    currentId: activation.currentId,
    bytesSent: session.sent,
    seconds: (Date.now() - session.started - session.waitedMs) / 1000,
    ...(activation.failure ? { failure: activation.failure } : {}),
  };
}

/** Why a release did not come up. */
interface Trouble {
  step: HostFailure['step'];
  what: string;
  output: string;
}

/**
 * Makes `id` current, restarts, checks health; on failure puts `fallback` back and brings it up
 * the same way or, with nothing to go back to, leaves nothing current.
 */
export async function activate(options: ActivateOptions): Promise<Activation> {
  const { session, id } = options;
  const stamp = () => ({
    time: new Date().toISOString(),
    by: options.by,
    ...(options.run ? { run: options.run } : {}),
  });
  const digest = options.digest ? { digest: options.digest } : {};
  session.phase('switch');
  await switchTo(options, id);
  session.log.info(`host ${session.label}: current -> ${id}`);
  const trouble = await bringUp(session, id, options.commands, (phase) => session.phase(phase));
  if (!trouble) {
    const from = options.from ? { from: options.from } : {};
    const event = { event: options.kind, release: id, ...digest, ...from, ...stamp() };
    return { result: options.kind, currentId: id, events: [event] };
  }
  session.phase('switch-back');
  const failed: HistoryEvent = {
    event: 'failed',
    release: id,
    ...digest,
    reason: trouble.what,
    ...stamp(),
  };
  const back = await switchBack(options);
  const events: HistoryEvent[] = [failed];
  if (back.to !== undefined) {
    events.push({
      event: 'rolled-back',
      release: back.to,
      from: id,
      reason: trouble.what,
      ...stamp(),
    });
  }
  const failure = hostFailure(options, trouble, back);
  // The step's error line reports it once; here it is one line of the host's log.
  session.log.info(failure.message);
  return {
    result: back.to !== undefined ? 'failed-rolled-back' : 'failed',
    currentId: back.to,
    events,
    failure,
  };
}

function switchTo(options: ActivateOptions, id: string): Promise<unknown> {
  const { session } = options;
  const suffix = randomBytes(6).toString('hex');
  const what = id === options.id ? `switching current to ${id}` : `switching current back to ${id}`;
  return session.must(what, switchScript(session.root, id, suffix, options.token));
}

/** Puts the fallback back and brings it up, or leaves nothing current when there is none. */
async function switchBack(options: ActivateOptions): Promise<SwitchedBack> {
  const { session, fallback } = options;
  if (fallback === undefined) {
    await session.must('unsetting current', unsetCurrentScript(session.root));
    session.log.info(`host ${session.label}: nothing was current before: nothing is current now`);
    return { to: undefined };
  }
  await switchTo(options, fallback);
  session.log.info(`host ${session.label}: current -> ${fallback} (switched back)`);
  const trouble = await bringUp(session, fallback, options.commands);
  if (!trouble) return { to: fallback };
  const output = foldedTail(trouble.output, 200);
  return {
    to: fallback,
    problem:
      trouble.step === 'restart'
        ? `restarting ${fallback} failed too: ${output}`
        : `${fallback} is not healthy either: ${output}`,
    output: trouble.output,
  };
}

interface SwitchedBack {
  to: string | undefined;
  /** How the release gone back to failed to come up, as one line. */
  problem?: string;
  output?: string;
}

function hostFailure(options: ActivateOptions, trouble: Trouble, back: SwitchedBack): HostFailure {
  const where =
    back.to === undefined
      ? 'nothing was current before, so nothing is current now'
      : back.problem
        ? `switched back to ${back.to}, which did not come up either: ${back.problem}`
        : `switched back to ${back.to}${options.commands.restart !== undefined ? ' and restarted it' : ''}`;
  const tail = trouble.output ? `; last output: ${foldedTail(trouble.output)}` : '';
  const error = options.session.error({
    problem: `${options.id}: ${trouble.what}; ${where}${tail}`,
  });
  return {
    step: trouble.step,
    what: trouble.what,
    problem: error.problem,
    message: error.message,
    output: trouble.output,
    ...(back.problem ? { switchBackProblem: back.problem } : {}),
    ...(back.output ? { switchBackOutput: back.output } : {}),
  };
}

/**
 * Restarts a release that was just made current, then checks its health until it passes or the
 * health timeout runs out: the one sequence for a new release and for the one gone back to. The
 * commands' output goes to the log as it comes.
 */
async function bringUp(
  session: HostSession,
  id: string,
  commands: Commands,
  onPhase?: (phase: 'restart' | 'health-check') => void,
): Promise<Trouble | undefined> {
  const { log, label } = session;
  if (commands.restart !== undefined) {
    onPhase?.('restart');
    log.info(`host ${label}: restart ${id}: ${commands.restart}`);
    const live = new LiveOutput(log);
    const restart = await execInRelease(session, id, commands.restart, {
      timeoutSeconds: RESTART_TIMEOUT_SECONDS,
      onOutput: live.write,
    });
    live.end();
    if (!restart.ok) {
      const what = restart.timedOut ? 'restart did not finish in time' : 'restart failed';
      log.info(`host ${label}: ${what}`);
      return { step: 'restart', what, output: restart.output };
    }
  }
  if (commands.healthCheck !== undefined) {
    onPhase?.('health-check');
    log.info(`host ${label}: health check ${id}: ${commands.healthCheck}`);
    const health = await healthCheck(session, id, commands);
    const attempts = `${health.attempts} attempt${health.attempts === 1 ? '' : 's'}`;
    if (!health.ok) {
      const what = `health check failed for ${health.seconds} s (${health.attempts} attempts)`;
      log.info(`host ${label}: ${what}`);
      return { step: 'health-check', what, output: health.output };
    }
    log.info(`host ${label}: ${id} is healthy (${attempts}, ${health.seconds} s)`);
  }
  return undefined;
}

/** How a user's command in a release ended. */
export interface CommandRun {
  ok: boolean;
  /** The exit status; null when it was stopped (timed out) or the connection dropped. */
  code: number | null;
  timedOut: boolean;
  /** The last lines it printed, stdout and stderr merged. */
  output: string;
  /** Everything it printed, as it printed it. */
  fullOutput: Buffer;
  seconds: number;
}

/** Runs a user's command in a release until it exits or time runs out. */
export async function execInRelease(
  session: HostSession,
  id: string,
  command: string,
  options: { timeoutSeconds: number; onOutput?: (chunk: Buffer) => void },
): Promise<CommandRun> {
  const started = Date.now();
  const { timeoutSeconds } = options;
  // The host stops the command at its time (TERM, then KILL 2 s later); this is for a host that
  // does not answer at all.
  const signal = AbortSignal.timeout((Math.ceil(Math.max(1, timeoutSeconds)) + 10) * 1000);
  const script = commandScript(session.root, id, command, timeoutSeconds);
  const result = await session.exec(script, {
    signal,
    ...(options.onOutput ? { onOutput: options.onOutput } : {}),
  });
  const fullOutput = Buffer.concat([result.stdout, result.stderr]);
  const timedOut = result.code === EXIT.timedOut || (signal.aborted && result.code === null);
  return {
    ok: result.code === 0,
    code: timedOut ? null : result.code,
    timedOut,
    output: outputTail(fullOutput),
    fullOutput,
    seconds: (Date.now() - started) / 1000,
  };
}

/**
 * Retries the health check until it passes or time runs out. The first attempt's output shows
 * as it comes; a later one's shows when it says something the one before did not, so a check
 * that fails the same way a hundred times is one block in the log, not a hundred.
 */
async function healthCheck(
  session: HostSession,
  id: string,
  commands: Commands,
): Promise<{ ok: boolean; output: string; attempts: number; seconds: number }> {
  const command = commands.healthCheck ?? 'true';
  const interval = (commands.healthIntervalSeconds ?? 1) * 1000;
  const started = Date.now();
  const deadline = started + commands.healthTimeoutSeconds * 1000;
  let shown: string | undefined;
  for (let attempts = 1; ; attempts++) {
    const remaining = Math.max(1, (deadline - Date.now()) / 1000);
    const live = attempts === 1 ? new LiveOutput(session.log) : undefined;
    const result = await execInRelease(session, id, command, {
      timeoutSeconds: remaining,
      ...(live ? { onOutput: live.write } : {}),
    });
    live?.end();
    const output = result.timedOut
      ? `${result.output}\n(no answer within the health timeout)`.trim()
      : result.output;
    if (attempts > 1 && output !== shown && output !== '') {
      session.log.info(`host ${session.label}: health check attempt ${attempts}:`);
      logOutput(session.log, output);
    }
    shown = output;
    const seconds = Math.round((Date.now() - started) / 1000);
    if (result.ok || Date.now() + interval >= deadline) {
      return { ok: result.ok, output, attempts, seconds };
    }
    await sleep(interval);
  }
}

/** The last lines of a command's output, at most `chars` characters. */
function outputTail(output: Buffer, lines = 20, chars = 2000): string {
  const text = output.toString('utf8').replace(/\s+$/, '');
  const tail = text.split('\n').slice(-lines).join('\n');
  return tail.length > chars ? `…${tail.slice(-chars)}` : tail;
}

/** Appends the events of an activation to the host's history. */
export async function record(session: HostSession, events: readonly HistoryEvent[]): Promise<void> {
  session.phase('record');
  await session.must(
    'recording the history',
    appendHistoryScript(session.root, events.map(historyLine)),
  );
}
