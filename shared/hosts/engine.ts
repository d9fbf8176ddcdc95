import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigurationError } from '../errors.js';
import type { Log } from '../log.js';
import { renderEnvFile } from '../dotenv.js';
import { digestOf } from '../manifest.js';
import {
  historyLine,
  parseHistory,
  previousGood,
  releasesToPrune,
  releaseStatuses,
  type HistoryEvent,
  type ReleaseStatus,
} from './history.js';
import {
  acquireLockScript,
  appendHistoryScript,
  breakLockScript,
  checkReleaseId,
  checkSharedPath,
  cleanScript,
  deployRoot,
  destroyScript,
  EXIT,
  heartbeatScript,
  inspectScript,
  installScript,
  parseInspect,
  parseSections,
  prepareMetadataScript,
  pruneScript,
  receiveScript,
  releaseLockScript,
  runInReleaseScript,
  switchScript,
  unsetCurrentScript,
  writeReleaseFileScript,
  type HostSnapshot,
  type LockRecord,
} from './plan.js';
import type { ExecOptions, ExecResult, Transport } from './transport.js';

/** A release as one host receives it: verified before any host is touched. */
export interface HostRelease {
  id: string;
  /** The bundle's digest, `sha256:<hex>`, recorded in the history. */
  digest: string;
  /** release.json, byte for byte as signed. */
  manifestBytes: Buffer;
  signatureBytes: Buffer;
  /** The release's config, vars and decrypted secrets, written to `.env` by shared/dotenv.ts. */
  env: Readonly<Record<string, string>>;
  /** The bundle as a plain tar stream, already checked; opened only when the host lacks it. */
  openBundle: () => Readable | Promise<Readable>;
}

export interface LockOptions {
  /** Who deploys, shown to whoever finds the lock held: actor, workflow, run number. */
  holder: string;
  /** The run's URL, kept in the lock and the history. */
  run?: string;
  /** How long to wait for a held lock; 0 fails at once. */
  waitSeconds: number;
  /** A lock whose heartbeat is older than this is stale: its deploy was killed. Default 120. */
  staleSeconds?: number;
  /** Take over a stale lock instead of failing. Default false: a person decides. */
  breakStale?: boolean;
}

export type Phase =
  | 'lock'
  | 'inspect'
  | 'clean'
  | 'upload'
  | 'unpack'
  | 'install'
  | 'switch'
  | 'restart'
  | 'health-check'
  | 'switch-back'
  | 'record'
  | 'prune'
  | 'unlock';

interface CommonOptions {
  root: string;
  lock: LockOptions;
  log: Log;
  onPhase?: (phase: Phase) => void;
  now?: () => Date;
}

interface ActivateOptions {
  /** Shell command run in the release directory after the switch, `.env` exported. */
  restart?: string;
  restartTimeoutSeconds?: number;
  /** Shell command retried until it exits 0 or the health timeout passes. */
  healthCheck?: string;
  healthTimeoutSeconds: number;
  healthIntervalSeconds?: number;
}

export interface DeployOptions extends CommonOptions, ActivateOptions {
  release: HostRelease;
  /** Releases kept on the host (current and the previous good one always are). */
  keep: number;
  /** Directories kept across releases under `shared/`, linked into each release. */
  sharedPaths: readonly string[];
}

export interface RollbackOptions extends CommonOptions, ActivateOptions {
  /** The release to make current again; its directory must still be on the host. */
  to: string;
  /** When given, the release on the host must carry exactly this release.json. */
  manifestBytes?: Buffer;
}

export interface HostFailure {
  step: 'restart' | 'health-check';
  /** One line: what failed, what the host runs now, the tail of the output. */
  message: string;
  /** The last lines the failing command printed. */
  output: string;
  /** How the release we went back to restarted, when it did not. */
  switchBackProblem?: string;
}

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

export interface HostReleaseState {
  id: string;
  /** The bundle digest its release.json names (build.digest). */
  digest: string | undefined;
  /** sha256 of its release.json. */
  manifestDigest: string | undefined;
  status: ReleaseStatus;
  /** The time of the last history event about it. */
  lastEvent: string | undefined;
}

export interface LockState {
  holder: string;
  run: string | undefined;
  started: string | undefined;
  heartbeatAgeSeconds: number | undefined;
  stale: boolean;
}

export interface HostState {
  host: string;
  exists: boolean;
  current: string | undefined;
  /** The last good release before current, from the history: what `previous` deploys. */
  previous: string | undefined;
  releases: HostReleaseState[];
  history: HistoryEvent[];
  lock: LockState | undefined;
  leftovers: string[];
  tar: boolean;
}

export interface HostPlan {
  host: string;
  releaseId: string;
  current: string | undefined;
  previous: string | undefined;
  /** skip: the release is there with the same manifest; replace: there, but different. */
  upload: 'upload' | 'skip' | 'replace';
  prune: string[];
  lock: LockState | undefined;
  /** What would stop the deploy: no tar, a different release of the same ID being current. */
  problems: string[];
}

const DEFAULT_STALE_SECONDS = 120;

function manifestBuildDigest(manifest: Buffer | undefined): string | undefined {
  if (!manifest) return undefined;
  try {
    const value = JSON.parse(manifest.toString('utf8')) as { build?: { digest?: unknown } } | null;
    const digest = value?.build?.digest;
    return typeof digest === 'string' ? digest : undefined;
  } catch {
    return undefined;
  }
}

/** The last lines of a command's output, at most `chars` characters. */
export function outputTail(output: Buffer | string, lines = 20, chars = 2000): string {
  const text = (typeof output === 'string' ? output : output.toString('utf8')).replace(/\s+$/, '');
  const tail = text.split('\n').slice(-lines).join('\n');
  return tail.length > chars ? `…${tail.slice(-chars)}` : tail;
}

function folded(text: string, chars = 600): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > chars ? `…${line.slice(-chars)}` : line;
}

/** One host, one deploy: runs scripts and turns their failures into messages naming the host. */
class HostSession {
  constructor(
    readonly transport: Transport,
    readonly root: string,
    readonly log: Log,
    private readonly onPhase: ((phase: Phase) => void) | undefined,
  ) {}

  get label(): string {
    return this.transport.label;
  }

  phase(phase: Phase): void {
    this.log.debug(`host ${this.label}: ${phase}`);
    this.onPhase?.(phase);
  }

  /** Bytes this session sent; the transport's own count also holds other deploys sharing it. */
  sent = 0;

  async exec(script: string, options?: ExecOptions): Promise<ExecResult> {
    const result = await this.transport.exec(script, options);
    this.sent += result.bytesSent;
    return result;
  }

  /** Runs a step that must succeed; its failure is the user's to fix (disk, permissions, tools). */
  async must(what: string, script: string, options?: ExecOptions): Promise<ExecResult> {
    const result = await this.exec(script, options);
    if (result.code !== 0) throw this.failure(what, result);
    return result;
  }

  failure(what: string, result: ExecResult): ConfigurationError {
    const stderr = result.stderr.toString('utf8');
    // GNU tar reports a full disk as a short write, without the errno text.
    if (
      /No space left on device|Disk quota exceeded|Wrote only [0-9]+ of [0-9]+ bytes|short write/i.test(
        stderr,
      )
    ) {
      return new ConfigurationError(
        `host ${this.label}: no space left on device under ${this.root} while ${what}`,
      );
    }
    if (result.code === EXIT.noTar && /tar is not installed/.test(stderr)) {
      return new ConfigurationError(
        `host ${this.label}: tar is not installed or not on the PATH; the host needs POSIX sh and tar`,
      );
    }
    const last = stderr.trim().split('\n').slice(-1)[0] ?? '';
    const status =
      result.code !== null
        ? `exit ${result.code}`
        : result.signal !== null
          ? `signal ${result.signal}`
          : 'no exit status: the connection dropped';
    return new ConfigurationError(
      `host ${this.label}: ${what} failed (${status})${last ? `: ${folded(last, 300)}` : ''}`,
    );
  }

  async inspect(): Promise<HostSnapshot> {
    const nonce = randomBytes(12).toString('hex');
    const result = await this.must('reading the deploy directory', inspectScript(this.root, nonce));
    return parseInspect(result.stdout, nonce);
  }
}

interface HeldLock {
  token: string;
  lost: boolean;
  stop(): void;
}

function describeLock(
  info: string,
  heartbeat: number | undefined,
  now: number | undefined,
  staleSeconds: number,
): LockState {
  let record: Partial<LockRecord>;
  try {
    record = (JSON.parse(info) as Partial<LockRecord> | null) ?? {};
  } catch {
    record = {};
  }
  const age =
    heartbeat !== undefined && now !== undefined ? Math.max(0, now - heartbeat) : undefined;
  const holder =
    typeof record.holder === 'string'
      ? `${record.holder}${record.machine ? ` on ${record.machine}` : ''}${record.pid ? ` (pid ${record.pid})` : ''}`
      : 'an unknown deploy';
  return {
    holder,
    run: typeof record.run === 'string' ? record.run : undefined,
    started: typeof record.started === 'string' ? record.started : undefined,
    heartbeatAgeSeconds: age,
    stale: age !== undefined && age > staleSeconds,
  };
}

function lockMessage(label: string, root: string, lock: LockState, waited: number): string {
  const since = lock.started ? ` since ${lock.started}` : '';
  const run = lock.run ? ` (${lock.run})` : '';
  if (lock.stale) {
    return `host ${label}: deploy lock held by ${lock.holder}${since}${run} looks stale (no heartbeat for ${lock.heartbeatAgeSeconds ?? '?'} s); if no deploy is running there, clear it on the host with: rm -rf ${quoteForMessage(`${root}/.deploy/lock`)}`;
  }
  const wait = waited > 0 ? `; waited ${waited} s` : '; set lock-timeout to wait for it';
  return `host ${label}: deploy lock held by ${lock.holder}${since}${run}${wait}`;
}

function quoteForMessage(path: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}

async function acquireLock(
  session: HostSession,
  options: LockOptions,
  releaseId: string | undefined,
  now: () => Date,
): Promise<HeldLock> {
  const staleSeconds = options.staleSeconds ?? DEFAULT_STALE_SECONDS;
  const token = randomUUID();
  const record: LockRecord = {
    holder: options.holder,
    ...(options.run ? { run: options.run } : {}),
    pid: process.pid,
    machine: hostname(),
    started: now().toISOString(),
    ...(releaseId ? { release: releaseId } : {}),
  };
  const started = Date.now();
  const deadline = started + options.waitSeconds * 1000;
  let unreadableSince: number | undefined;
  for (;;) {
    const nonce = randomBytes(12).toString('hex');
    const result = await session.exec(acquireLockScript(session.root, record, token, nonce));
    if (result.code === 0) return startHeartbeat(session, token, staleSeconds);
    if (result.code !== EXIT.lockHeld) throw session.failure('taking the deploy lock', result);
    const sections = new Map(
      parseSections(result.stdout, nonce).map((s) => [s.name, s.body.toString('utf8').trim()]),
    );
    const heldToken = sections.get('token') ?? '';
    const heartbeat = Number.parseInt(sections.get('heartbeat') ?? '', 10);
    const hostNow = Number.parseInt(sections.get('now') ?? '', 10);
    const lock = describeLock(
      sections.get('info') ?? '',
      Number.isFinite(heartbeat) ? heartbeat : undefined,
      Number.isFinite(hostNow) ? hostNow : undefined,
      staleSeconds,
    );
    if (!Number.isFinite(heartbeat)) {
      // Its holder writes the heartbeat right after mkdir; missing for long, that holder died between.
      unreadableSince ??= Date.now();
      if (Date.now() - unreadableSince >= 2000) lock.stale = true;
    } else {
      unreadableSince = undefined;
    }
    if (lock.stale && options.breakStale) {
      session.log.warning(
        `host ${session.label}: taking over a stale deploy lock held by ${lock.holder}`,
      );
      const suffix = randomBytes(6).toString('hex');
      const broken = await session.exec(breakLockScript(session.root, heldToken, suffix));
      if (broken.code !== 0 && broken.code !== EXIT.lockLost) {
        throw session.failure('clearing a stale deploy lock', broken);
      }
      continue;
    }
    const waited = Math.round((Date.now() - started) / 1000);
    // A stale lock never goes away by itself: say so at once rather than wait for nothing.
    if (lock.stale)
      throw new ConfigurationError(lockMessage(session.label, session.root, lock, waited));
    const remaining = deadline - Date.now();
    if (remaining <= 0)
      throw new ConfigurationError(lockMessage(session.label, session.root, lock, waited));
    await sleep(Math.min(1000, remaining));
  }
}

function startHeartbeat(session: HostSession, token: string, staleSeconds: number): HeldLock {
  const held: HeldLock = { token, lost: false, stop: () => clearInterval(timer) };
  const every = Math.max(500, Math.min(30_000, (staleSeconds * 1000) / 4));
  const timer = setInterval(() => {
    session
      .exec(heartbeatScript(session.root, token))
      .then((result) => {
        if (result.code === EXIT.lockLost && !held.lost) {
          held.lost = true;
          session.log.warning(
            `host ${session.label}: the deploy lock was taken over by another deploy`,
          );
        }
      })
      .catch((error: unknown) => {
        session.log.debug(`host ${session.label}: heartbeat failed: ${String(error)}`);
      });
  }, every);
  timer.unref();
  return held;
}

async function releaseLock(session: HostSession, held: HeldLock): Promise<void> {
  held.stop();
  session.phase('unlock');
  try {
    const result = await session.exec(releaseLockScript(session.root, held.token));
    // lockLost: taken over as stale; missing: the root is gone (destroyed).
    if (result.code !== 0 && result.code !== EXIT.lockLost && result.code !== EXIT.missing) {
      session.log.warning(
        `host ${session.label}: could not release the deploy lock (exit ${result.code})`,
      );
    }
  } catch (error) {
    session.log.warning(
      `host ${session.label}: could not release the deploy lock: ${String(error)}`,
    );
  }
}

async function withLock<T>(
  session: HostSession,
  options: LockOptions,
  releaseId: string | undefined,
  now: () => Date,
  body: (held: HeldLock) => Promise<T>,
): Promise<T> {
  session.phase('lock');
  const held = await acquireLock(session, options, releaseId, now);
  try {
    return await body(held);
  } finally {
    await releaseLock(session, held);
  }
}

/** Runs a user command in a release until it exits or time runs out. */
async function runCommand(
  session: HostSession,
  id: string,
  command: string,
  timeoutSeconds: number,
): Promise<{ ok: boolean; output: string; timedOut: boolean }> {
  const signal = AbortSignal.timeout(Math.ceil(Math.max(1, timeoutSeconds) * 1000));
  const result = await session.exec(runInReleaseScript(session.root, id, command), { signal });
  const timedOut = signal.aborted && result.code === null;
  return {
    ok: result.code === 0,
    output: outputTail(Buffer.concat([result.stdout, result.stderr])),
    timedOut,
  };
}

async function healthCheck(
  session: HostSession,
  id: string,
  command: string,
  timeoutSeconds: number,
  intervalSeconds: number,
): Promise<{ ok: boolean; output: string; attempts: number; seconds: number }> {
  const started = Date.now();
  const deadline = started + timeoutSeconds * 1000;
  let attempts = 0;
  for (;;) {
    attempts++;
    const remaining = Math.max(1, (deadline - Date.now()) / 1000);
    const result = await runCommand(session, id, command, remaining);
    const output = result.timedOut
      ? `${result.output}\n(no answer within the health timeout)`.trim()
      : result.output;
    const seconds = Math.round((Date.now() - started) / 1000);
    if (result.ok) return { ok: true, output, attempts, seconds };
    if (Date.now() + intervalSeconds * 1000 >= deadline)
      return { ok: false, output, attempts, seconds };
    await sleep(intervalSeconds * 1000);
  }
}

interface Activation {
  result: HostResult['result'];
  currentId: string | undefined;
  failure?: HostFailure;
  events: HistoryEvent[];
}

/**
 * Makes `id` current, restarts, checks health; on failure puts `fallback` back (restarted) or,
 * with nothing to go back to, leaves nothing current. Returns the history events to record.
 */
async function activate(
  session: HostSession,
  held: HeldLock,
  options: ActivateOptions,
  id: string,
  fallback: string | undefined,
  event: {
    kind: 'activated' | 'rolled-back';
    from: string | undefined;
    digest: string | undefined;
  },
  common: { by: string; run: string | undefined; now: () => Date },
): Promise<Activation> {
  const stamp = () => ({
    time: common.now().toISOString(),
    by: common.by,
    ...(common.run ? { run: common.run } : {}),
  });
  const digest = event.digest ? { digest: event.digest } : {};
  session.phase('switch');
  await session.must(
    `switching current to ${id}`,
    switchScript(session.root, id, randomBytes(6).toString('hex'), held.token),
  );
  session.log.info(`host ${session.label}: current -> ${id}`);

  let failure: { step: HostFailure['step']; what: string; output: string } | undefined;
  if (options.restart !== undefined) {
    session.phase('restart');
    const restart = await runCommand(
      session,
      id,
      options.restart,
      options.restartTimeoutSeconds ?? 600,
    );
    if (!restart.ok) {
      failure = {
        step: 'restart',
        what: restart.timedOut ? 'restart did not finish in time' : 'restart failed',
        output: restart.output,
      };
    }
  }
  if (!failure && options.healthCheck !== undefined) {
    session.phase('health-check');
    const health = await healthCheck(
      session,
      id,
      options.healthCheck,
      options.healthTimeoutSeconds,
      options.healthIntervalSeconds ?? 1,
    );
    if (!health.ok) {
      failure = {
        step: 'health-check',
        what: `health check failed for ${health.seconds} s (${health.attempts} attempts)`,
        output: health.output,
      };
    } else {
      session.log.info(`host ${session.label}: ${id} is healthy`);
    }
  }
  if (!failure) {
    const done: HistoryEvent =
      event.kind === 'activated'
        ? {
            event: 'activated',
            release: id,
            ...digest,
            ...(event.from ? { from: event.from } : {}),
            ...stamp(),
          }
        : {
            event: 'rolled-back',
            release: id,
            ...digest,
            ...(event.from ? { from: event.from } : {}),
            ...stamp(),
          };
    return { result: event.kind, currentId: id, events: [done] };
  }

  session.phase('switch-back');
  const events: HistoryEvent[] = [
    { event: 'failed', release: id, ...digest, reason: failure.what, ...stamp() },
  ];
  let switchBackProblem: string | undefined;
  let currentId: string | undefined;
  if (fallback !== undefined) {
    await session.must(
      `switching current back to ${fallback}`,
      switchScript(session.root, fallback, randomBytes(6).toString('hex'), held.token),
    );
    currentId = fallback;
    if (options.restart !== undefined) {
      const again = await runCommand(
        session,
        fallback,
        options.restart,
        options.restartTimeoutSeconds ?? 600,
      );
      if (!again.ok)
        switchBackProblem = `restarting ${fallback} failed too: ${folded(again.output, 200)}`;
    }
    if (!switchBackProblem && options.healthCheck !== undefined) {
      const health = await healthCheck(
        session,
        fallback,
        options.healthCheck,
        options.healthTimeoutSeconds,
        options.healthIntervalSeconds ?? 1,
      );
      if (!health.ok)
        switchBackProblem = `${fallback} is not healthy either: ${folded(health.output, 200)}`;
    }
    events.push({
      event: 'rolled-back',
      release: fallback,
      from: id,
      reason: failure.what,
      ...stamp(),
    });
  } else {
    await session.must('unsetting current', unsetCurrentScript(session.root));
  }
  const where =
    fallback !== undefined
      ? `switched back to ${fallback}${switchBackProblem ? ` (but ${switchBackProblem})` : options.restart !== undefined ? ' and restarted it' : ''}`
      : 'nothing was current before, so nothing is current now';
  const tail = failure.output ? `; last output: ${folded(failure.output)}` : '';
  const message = `host ${session.label}: ${id}: ${failure.what}; ${where}${tail}`;
  session.log.warning(message);
  return {
    result: fallback !== undefined ? 'failed-rolled-back' : 'failed',
    currentId,
    events,
    failure: {
      step: failure.step,
      message,
      output: failure.output,
      ...(switchBackProblem ? { switchBackProblem } : {}),
    },
  };
}

async function record(session: HostSession, events: readonly HistoryEvent[]): Promise<void> {
  session.phase('record');
  await session.must(
    'recording the history',
    appendHistoryScript(session.root, events.map(historyLine)),
  );
}

async function prune(
  session: HostSession,
  snapshot: HostSnapshot,
  present: readonly string[],
  currentId: string | undefined,
  events: readonly HistoryEvent[],
  keep: number,
): Promise<string[]> {
  const ids = releasesToPrune({
    present,
    current: currentId,
    history: [...parseHistory(snapshot.history), ...events],
    keep,
  });
  if (ids.length === 0) return [];
  session.phase('prune');
  await session.must('pruning old releases', pruneScript(session.root, ids));
  session.log.info(`host ${session.label}: pruned ${ids.join(', ')}`);
  return ids;
}

function checkCommon(options: CommonOptions & ActivateOptions): void {
  if (!(options.healthTimeoutSeconds > 0)) {
    throw new ConfigurationError('health-timeout: expected a number of seconds above 0');
  }
  if (options.lock.waitSeconds < 0)
    throw new ConfigurationError('lock-timeout: expected 0 or more seconds');
}

/**
 * Deploys one verified release to one host and makes it current: lock, upload unless the host has
 * it, switch, restart, health check, switch back on failure, record, prune, unlock. Problems the
 * user can fix (lock held, no tar, full disk, unreachable) are ConfigurationErrors naming the host;
 * a failed restart or health check is a result (`failure`), with the host back on its previous release.
 */
export async function deployToHost(
  transport: Transport,
  options: DeployOptions,
): Promise<HostResult> {
  checkCommon(options);
  const root = deployRoot(options.root);
  const { release } = options;
  const id = checkReleaseId(release.id);
  const sharedPaths = options.sharedPaths.map(checkSharedPath);
  if (!Number.isInteger(options.keep) || options.keep < 1) {
    throw new ConfigurationError('keep: expected a whole number of releases, at least 1');
  }
  const envFile = renderEnvFile(release.env);
  const now = options.now ?? (() => new Date());
  const session = new HostSession(transport, root, options.log, options.onPhase);
  const started = Date.now();

  return withLock(session, options.lock, id, now, async (held) => {
    session.phase('inspect');
    const snapshot = await session.inspect();
    session.phase('clean');
    if (snapshot.leftovers.length > 0) {
      session.log.info(
        `host ${session.label}: removing leftovers of an interrupted deploy: ${snapshot.leftovers.join(', ')}`,
      );
    }
    await session.must('cleaning leftovers', cleanScript(root));

    const previousId = snapshot.current;
    const existing = snapshot.releases.find((r) => r.id === id);
    const wanted = digestOf(release.manifestBytes);
    const same = existing?.manifest !== undefined && digestOf(existing.manifest) === wanted;
    if (existing && !same && previousId === id) {
      throw new ConfigurationError(
        `host ${session.label}: releases/${id} is current but holds a different release.json than release ${id}; releases never change: deploy a new release ID`,
      );
    }
    if (!same) {
      if (!snapshot.tar) {
        throw new ConfigurationError(
          `host ${session.label}: tar is not installed or not on the PATH; the host needs POSIX sh and tar`,
        );
      }
      await upload(session, release, id, envFile, sharedPaths, existing !== undefined);
    } else {
      session.log.info(`host ${session.label}: ${id} is already on the host; nothing to upload`);
    }

    const history = parseHistory(snapshot.history);
    const present = new Set(snapshot.releases.map((r) => r.id).concat(id));
    const fallback =
      previousId !== undefined && previousId !== id && present.has(previousId)
        ? previousId
        : previousGood(history, id, present);
    const activation = await activate(
      session,
      held,
      options,
      id,
      fallback,
      { kind: 'activated', from: previousId, digest: release.digest },
      { by: options.lock.holder, run: options.lock.run, now },
    );
    await record(session, activation.events);
    const pruned = await prune(
      session,
      snapshot,
      [...present],
      activation.currentId,
      activation.events,
      options.keep,
    );
    return {
      host: session.label,
      releaseId: id,
      result: activation.result,
      previousId,
      currentId: activation.currentId,
      skippedUpload: same,
      bytesSent: session.sent,
      pruned,
      seconds: (Date.now() - started) / 1000,
      ...(activation.failure ? { failure: activation.failure } : {}),
    };
  });
}

async function upload(
  session: HostSession,
  release: HostRelease,
  id: string,
  envFile: string,
  sharedPaths: readonly string[],
  replace: boolean,
): Promise<void> {
  const root = session.root;
  session.phase('upload');
  const bundle = await release.openBundle();
  let ended = false;
  bundle.once('end', () => {
    ended = true;
    session.phase('unpack');
  });
  const received = await session.exec(receiveScript(root, id), { stdin: bundle });
  if (received.code !== 0) {
    const error = session.failure(`unpacking ${id}`, received);
    // Free what the partial unpack took (a full disk); the next deploy would clean it anyway.
    await session.exec(cleanScript(root)).catch(() => undefined);
    throw error;
  }
  if (!ended) session.phase('unpack');
  session.phase('install');
  try {
    await session.must(`preparing ${id}`, prepareMetadataScript(root, id));
    await session.must(`writing ${id}/.env`, writeReleaseFileScript(root, id, '.env'), {
      stdin: envFile,
    });
    await session.must(
      `writing ${id}/.release/release.json`,
      writeReleaseFileScript(root, id, '.release/release.json'),
      {
        stdin: release.manifestBytes,
      },
    );
    await session.must(
      `writing ${id}/.release/release.json.sig`,
      writeReleaseFileScript(root, id, '.release/release.json.sig'),
      { stdin: release.signatureBytes },
    );
    await session.must(`installing ${id}`, installScript(root, id, sharedPaths, replace));
  } catch (error) {
    await session.exec(cleanScript(root)).catch(() => undefined);
    throw error;
  }
}

/**
 * Makes a release still on the host current again: no upload, one rename, then restart and health
 * check (on failure, back to what was current). For `previous` and for putting a fleet back.
 */
export async function rollbackHost(
  transport: Transport,
  options: RollbackOptions,
): Promise<HostResult> {
  checkCommon(options);
  const root = deployRoot(options.root);
  const id = checkReleaseId(options.to);
  const now = options.now ?? (() => new Date());
  const session = new HostSession(transport, root, options.log, options.onPhase);
  const started = Date.now();

  return withLock(session, options.lock, id, now, async (held) => {
    session.phase('inspect');
    const snapshot = await session.inspect();
    const target = snapshot.releases.find((r) => r.id === id);
    if (!target) {
      throw new ConfigurationError(
        `host ${session.label}: release ${id} is no longer on the host (releases there: ${snapshot.releases.map((r) => r.id).join(', ') || 'none'}); deploy it instead`,
      );
    }
    if (
      options.manifestBytes &&
      (!target.manifest || digestOf(target.manifest) !== digestOf(options.manifestBytes))
    ) {
      throw new ConfigurationError(
        `host ${session.label}: releases/${id} holds a different release.json than release ${id}; deploy it to replace it`,
      );
    }
    const previousId = snapshot.current;
    const fallback = previousId !== undefined && previousId !== id ? previousId : undefined;
    const activation = await activate(
      session,
      held,
      options,
      id,
      fallback,
      { kind: 'rolled-back', from: previousId, digest: manifestBuildDigest(target.manifest) },
      { by: options.lock.holder, run: options.lock.run, now },
    );
    await record(session, activation.events);
    return {
      host: session.label,
      releaseId: id,
      result: activation.result,
      previousId,
      currentId: activation.currentId,
      skippedUpload: true,
      bytesSent: session.sent,
      pruned: [],
      seconds: (Date.now() - started) / 1000,
      ...(activation.failure ? { failure: activation.failure } : {}),
    };
  });
}

function hostState(label: string, snapshot: HostSnapshot, staleSeconds: number): HostState {
  const history = parseHistory(snapshot.history);
  const statuses = releaseStatuses(history);
  const present = new Set(snapshot.releases.map((r) => r.id));
  return {
    host: label,
    exists: snapshot.exists,
    current: snapshot.current,
    previous: previousGood(history, snapshot.current, present),
    releases: snapshot.releases.map((r) => ({
      id: r.id,
      digest: manifestBuildDigest(r.manifest),
      manifestDigest: r.manifest ? digestOf(r.manifest) : undefined,
      status: statuses.get(r.id)?.status ?? 'unknown',
      lastEvent: statuses.get(r.id)?.time,
    })),
    history,
    lock: snapshot.lock
      ? describeLock(snapshot.lock.info, snapshot.lock.heartbeat, snapshot.now, staleSeconds)
      : undefined,
    leftovers: snapshot.leftovers,
    tar: snapshot.tar,
  };
}

/** What is on the host: current, the releases with their digests, the history, the lock. Read only. */
export async function readHostState(
  transport: Transport,
  options: { root: string; log: Log; staleSeconds?: number },
): Promise<HostState> {
  const session = new HostSession(transport, deployRoot(options.root), options.log, undefined);
  return hostState(
    transport.label,
    await session.inspect(),
    options.staleSeconds ?? DEFAULT_STALE_SECONDS,
  );
}

/** A dry run: what a deploy of `release` would upload, switch and prune. Changes nothing. */
export async function planHost(
  transport: Transport,
  options: {
    root: string;
    release: Pick<HostRelease, 'id' | 'manifestBytes'>;
    keep: number;
    log: Log;
    staleSeconds?: number;
  },
): Promise<HostPlan> {
  const root = deployRoot(options.root);
  const id = checkReleaseId(options.release.id);
  const session = new HostSession(transport, root, options.log, undefined);
  const snapshot = await session.inspect();
  const state = hostState(transport.label, snapshot, options.staleSeconds ?? DEFAULT_STALE_SECONDS);
  const existing = state.releases.find((r) => r.id === id);
  const same = existing?.manifestDigest === digestOf(options.release.manifestBytes);
  const upload = same ? 'skip' : existing ? 'replace' : 'upload';
  const problems: string[] = [];
  if (upload !== 'skip' && !snapshot.tar) problems.push('tar is not installed or not on the PATH');
  if (upload === 'replace' && state.current === id) {
    problems.push(`releases/${id} is current but holds a different release.json`);
  }
  if (state.lock) problems.push(lockMessage(transport.label, root, state.lock, 0));
  const present = [...new Set(snapshot.releases.map((r) => r.id).concat(id))];
  const event: HistoryEvent = { event: 'activated', release: id, time: new Date().toISOString() };
  return {
    host: transport.label,
    releaseId: id,
    current: state.current,
    previous: state.previous,
    upload,
    prune: releasesToPrune({
      present,
      current: id,
      history: [...state.history, event],
      keep: options.keep,
    }),
    lock: state.lock,
    problems,
  };
}

/**
 * Tears a host's deploy down (a closed pull request's preview): stops the app with `stopCommand`
 * in the current release, then removes the deploy root. A failed stop leaves everything in place.
 */
export async function destroyHost(
  transport: Transport,
  options: CommonOptions & { stopCommand?: string; stopTimeoutSeconds?: number },
): Promise<{ host: string; removed: boolean; stopped: boolean }> {
  const root = deployRoot(options.root);
  const now = options.now ?? (() => new Date());
  const session = new HostSession(transport, root, options.log, options.onPhase);
  session.phase('inspect');
  const snapshot = await session.inspect();
  if (!snapshot.exists) return { host: transport.label, removed: false, stopped: false };
  // Checked before the lock, whose directory would make any directory look like a deploy root.
  if (!snapshot.deployRoot) {
    throw new ConfigurationError(
      `host ${transport.label}: ${root} does not look like a deploy root (no .deploy or releases inside); not removing it`,
    );
  }
  return withLock(session, options.lock, undefined, now, async () => {
    let stopped = false;
    if (options.stopCommand !== undefined && snapshot.current !== undefined) {
      const stop = await runCommand(
        session,
        snapshot.current,
        options.stopCommand,
        options.stopTimeoutSeconds ?? 120,
      );
      if (!stop.ok) {
        throw new ConfigurationError(
          `host ${session.label}: stop command failed in ${snapshot.current}; nothing removed${stop.output ? `; last output: ${folded(stop.output)}` : ''}`,
        );
      }
      stopped = true;
    }
    await session.must(`removing ${root}`, destroyScript(root));
    return { host: transport.label, removed: true, stopped };
  });
}
