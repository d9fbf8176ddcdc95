import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigurationError, foldedTail, formatError, type Problem } from '../errors.js';
import type { Log } from '../log.js';
import { inspectScript, parseInspect, seconds, type HostSnapshot } from './scripts/inspect.js';
import {
  acquireLockScript,
  heartbeatScript,
  releaseLockScript,
  takeOverLockScript,
  type LockRecord,
} from './scripts/lock.js';
import { EXIT, deployRoot, parseSections } from './scripts/root.js';
import { describeLock, lockProblem } from './lock-state.js';
import type { ExecOptions, ExecResult, Transport } from './transport.js';

/** The steps of a deploy, as they start: for the log, and for tests that stop a deploy at one. */
export type Phase =
  | 'lock'
  | 'inspect'
  | 'clean'
  | 'check'
  | 'upload'
  | 'unpack'
  | 'install'
  | 'release-command'
  | 'switch'
  | 'restart'
  | 'health-check'
  | 'switch-back'
  | 'record'
  | 'prune'
  | 'unlock';

export interface LockOptions {
  /** Who deploys, shown to whoever finds the lock held: actor, workflow, run number. */
  holder: string;
  /** The run's URL, kept in the lock and the history. */
  run?: string;
  /** How long to wait for a held lock; 0 fails at once. */
  waitSeconds: number;
  /**
   * A lock whose heartbeat is older than this is dead (its deploy was killed or cut off) and is
   * taken over. Default 30.
   */
  staleSeconds?: number;
}

export const DEFAULT_STALE_SECONDS = 30;

export interface SessionOptions {
  /** The deploy root (the `path` input). */
  root: string;
  log: Log;
  onPhase?: (phase: Phase) => void;
  /**
   * Connects to the host again, for the one thing worth a new connection when the old one
   * dropped: releasing the lock. Without it, a dropped connection leaves the lock to go stale.
   */
  reconnect?: () => Promise<Transport>;
}

/** What every step that changes a host takes. */
export interface StepOptions extends SessionOptions {
  lock: LockOptions;
  /**
   * Awaited once the host is locked and checked, right before the step changes anything on it:
   * where the run records its GitHub Deployment. A rejection stops the step, nothing changed.
   */
  beforeChange?: () => Promise<void>;
}

/** One host, one deploy: runs scripts and turns their failures into errors naming the host. */
export class HostSession {
  readonly root: string;
  readonly log: Log;
  /** Bytes this session sent; the transport's own count also holds other deploys sharing it. */
  sent = 0;
  /** Milliseconds spent waiting for the caller's `beforeChange`: not the host's own time. */
  waitedMs = 0;
  /** When the step began, `Date.now()`: what the host's time is counted from. */
  readonly started = Date.now();

  constructor(
    readonly transport: Transport,
    private readonly options: SessionOptions,
  ) {
    this.root = deployRoot(options.root);
    this.log = options.log;
  }

  get label(): string {
    return this.transport.label;
  }

  get reconnect(): (() => Promise<Transport>) | undefined {
    return this.options.reconnect;
  }

  phase(phase: Phase): void {
    this.log.info(`host ${this.label}: ${phase}`);
    this.options.onPhase?.(phase);
  }

  /** An error about this host. */
  error(problem: Omit<Problem, 'subject'>): ConfigurationError {
    return new ConfigurationError({ subject: `host ${this.label}`, ...problem });
  }

  /** Awaits the caller's hook before the first change, keeping its time out of the host's. */
  async beforeChange(hook: (() => Promise<void>) | undefined): Promise<void> {
    if (!hook) return;
    const started = Date.now();
    try {
      await hook();
    } finally {
      this.waitedMs += Date.now() - started;
    }
  }

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
      return this.error({ problem: `no space left on device under ${this.root} while ${what}` });
    }
    if (result.code === EXIT.noTar && /tar is not installed/.test(stderr)) return this.noTar();
    const last = stderr.trim().split('\n').slice(-1)[0] ?? '';
    const status =
      result.code !== null
        ? `exit ${result.code}`
        : result.signal !== null
          ? `signal ${result.signal}`
          : 'no exit status: the connection dropped';
    return this.error({
      problem: `${what} failed (${status})${last ? `: ${foldedTail(last, 300)}` : ''}`,
    });
  }

  noTar(): ConfigurationError {
    return this.error({
      problem: 'tar is not installed or not on the PATH',
      hint: 'the host needs POSIX sh and tar',
    });
  }

  async inspect(): Promise<HostSnapshot> {
    const nonce = randomBytes(12).toString('hex');
    const result = await this.must('reading the deploy directory', inspectScript(this.root, nonce));
    return parseInspect(result.stdout, nonce);
  }

  /** Runs `body` holding the host's deploy lock, kept fresh by a heartbeat; always releases it. */
  async withLock<T>(
    lock: LockOptions,
    releaseId: string | undefined,
    body: (token: string) => Promise<T>,
  ): Promise<T> {
    const held = await this.hold(lock, releaseId);
    try {
      return await body(held.token);
    } finally {
      await held.release();
    }
  }

  /**
   * Takes the host's deploy lock and keeps its heartbeat going until `release()`: for a lock held
   * across steps that run on other hosts in between (the release phase).
   */
  async hold(lock: LockOptions, releaseId: string | undefined): Promise<HeldLock> {
    this.phase('lock');
    const staleSeconds = lock.staleSeconds ?? DEFAULT_STALE_SECONDS;
    const token = await acquireLock(this, lock, releaseId, staleSeconds);
    const stop = startHeartbeat(this, token, staleSeconds);
    let released: Promise<void> | undefined;
    return {
      token,
      release: () => {
        stop();
        return (released ??= releaseLock(this, token, staleSeconds));
      },
    };
  }
}

/** A deploy lock this session holds; `release()` may be called more than once. */
export interface HeldLock {
  token: string;
  release(): Promise<void>;
}

/** Takes over a stale lock at most this often in one attempt, so a lock that cannot be moved ends it. */
const TAKEOVER_ATTEMPTS = 5;

/**
 * Takes the lock, or waits for it up to `waitSeconds`. A lock whose heartbeat is older than
 * `staleSeconds` is dead (its deploy was killed, or lost its connection): it is taken over. A
 * holder that missed a beat or two is waited for until it is stale, whatever `waitSeconds` says,
 * so the deploy after a killed one needs nobody to clear its lock.
 */
async function acquireLock(
  session: HostSession,
  options: LockOptions,
  releaseId: string | undefined,
  staleSeconds: number,
): Promise<string> {
  const token = randomUUID();
  const record: LockRecord = {
    holder: options.holder,
    ...(options.run ? { run: options.run } : {}),
    pid: process.pid,
    machine: hostname(),
    started: new Date().toISOString(),
    ...(releaseId ? { release: releaseId } : {}),
  };
  const started = Date.now();
  let takeovers = 0;
  for (;;) {
    const nonce = randomBytes(12).toString('hex');
    const result = await session.exec(acquireLockScript(session.root, record, token, nonce));
    if (result.code === 0) return token;
    if (result.code !== EXIT.lockHeld) throw session.failure('taking the deploy lock', result);
    const sections = new Map(
      parseSections(result.stdout, nonce).map((s) => [s.name, s.body.toString('utf8')]),
    );
    if (sections.has('gone')) continue;
    const lock = describeLock(
      (sections.get('info') ?? '').trim(),
      seconds(sections.get('heartbeat') ?? ''),
      seconds(sections.get('now') ?? ''),
      staleSeconds,
    );
    if (lock.stale && takeovers < TAKEOVER_ATTEMPTS) {
      takeovers++;
      const owner = (sections.get('owner') ?? '').trim().split('\n')[0] || undefined;
      const taken = await session.exec(
        takeOverLockScript(session.root, { record, token, owner, staleSeconds }),
      );
      if (taken.code === 0) {
        session.log.info(
          `host ${session.label}: took over the deploy lock of ${lock.holder}, silent for ${lock.heartbeatAgeSeconds ?? '?'} s`,
        );
        return token;
      }
      if (taken.code !== EXIT.lockHeld)
        throw session.failure('taking over a dead deploy lock', taken);
      continue;
    }
    const age = lock.heartbeatAgeSeconds ?? 0;
    const missedBeats = !lock.stale && age > staleSeconds / 2;
    const deadline = Math.max(
      started + options.waitSeconds * 1000,
      missedBeats ? Date.now() + (staleSeconds - age + 1) * 1000 : 0,
    );
    const remaining = deadline - Date.now();
    if (remaining <= 0 || lock.stale) {
      const waited = Math.round((Date.now() - started) / 1000);
      throw session.error(lockProblem(lock, waited));
    }
    await sleep(Math.min(1000, remaining));
  }
}

/** How often the holder refreshes its heartbeat: a quarter of the stale age, so a few may miss. */
export function heartbeatMs(staleSeconds: number): number {
  return Math.max(500, Math.min(30_000, (staleSeconds * 1000) / 4));
}

/** Refreshes the heartbeat every quarter of the stale age; returns what stops it. */
function startHeartbeat(session: HostSession, token: string, staleSeconds: number): () => void {
  let lost = false;
  const timer = setInterval(() => {
    session
      .exec(heartbeatScript(session.root, token))
      .then((result) => {
        if (result.code === EXIT.lockLost && !lost) {
          lost = true;
          session.log.info(
            `host ${session.label}: the deploy lock was taken over by another deploy (no heartbeat reached the host for ${staleSeconds} s)`,
          );
        }
      })
      .catch((error: unknown) => {
        session.log.debug(`host ${session.label}: heartbeat failed: ${String(error)}`);
      });
  }, heartbeatMs(staleSeconds));
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Releases the lock and cleans what the step left half-made. When the connection is gone, it
 * connects again to do so; when it cannot, the lock stays until its heartbeat is stale and the
 * next deploy takes it over (and cleans up).
 */
async function releaseLock(
  session: HostSession,
  token: string,
  staleSeconds: number,
): Promise<void> {
  session.phase('unlock');
  const script = releaseLockScript(session.root, token);
  let result: ExecResult;
  try {
    result = await session.exec(script);
  } catch (error) {
    const reconnect = session.reconnect;
    const left = `the deploy lock stays until it has had no heartbeat for ${staleSeconds} s; the next deploy then takes it over`;
    if (!reconnect) {
      session.log.info(
        `host ${session.label}: could not release the deploy lock (${formatError(error)}); ${left}`,
      );
      return;
    }
    try {
      result = await (await reconnect()).exec(script);
      session.log.info(`host ${session.label}: connected again to release the deploy lock`);
    } catch (again) {
      session.log.info(
        `host ${session.label}: could not connect again to release the deploy lock (${formatError(again)}); ${left}`,
      );
      return;
    }
  }
  // lockLost: another deploy holds it now; missing: the root is gone (destroyed).
  if (result.code !== 0 && result.code !== EXIT.lockLost && result.code !== EXIT.missing) {
    session.log.info(
      `host ${session.label}: could not release the deploy lock (exit ${result.code})`,
    );
  }
}
