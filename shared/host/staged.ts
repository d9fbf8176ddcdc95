import { formatError } from '../errors.js';
import { execInRelease, record, type CommandRun, type HostResult } from './activate.js';
import { parseHistory, wasCurrent } from './history.js';
import type { HostSnapshot } from './scripts/inspect.js';
import type { HeldLock, HostSession, LockOptions } from './session.js';

/**
 * A host locked with the release on it, not yet switched: between the two, a fleet can run the
 * release command once, after every host has the release and before any switches to it.
 */
export interface StagedHost {
  readonly label: string;
  readonly releaseId: string;
  /** What the host ran when it was locked. */
  readonly current: string | undefined;
  /** Whether the release was current on this host before: going back to it is a return. */
  readonly wasCurrent: boolean;
  /** Runs a command in `releases/<id>` with its `.env` exported, the lock held. */
  runCommand(
    command: string,
    timeoutSeconds: number,
    onOutput?: (chunk: Buffer) => void,
  ): Promise<CommandRun>;
  /** Switches to the release, brings it up, records, prunes; then unlocks. */
  activate(): Promise<HostResult>;
  /**
   * Unlocks without switching. With `releaseCommandFailure` (why it failed), the history first
   * records that the release's command failed, so the release never counts as good.
   */
  abandon(releaseCommandFailure?: string): Promise<void>;
}

/** What a staged host does when it is switched, given the lock's token. */
export type Activation = () => Promise<HostResult>;

/**
 * Locks the host and reads it, then runs `prepare` (checks, the upload); the lock stays held
 * until the staged host is activated or abandoned. A failure on the way releases it.
 */
export async function stageHost(
  session: HostSession,
  lock: LockOptions,
  releaseId: string,
  prepare: (token: string, snapshot: HostSnapshot) => Promise<Activation>,
): Promise<StagedHost> {
  const held = await session.hold(lock, releaseId);
  try {
    session.phase('inspect');
    const snapshot = await session.inspect();
    const activation = await prepare(held.token, snapshot);
    return new Staged({ session, held, lock, releaseId, snapshot, activation });
  } catch (error) {
    await held.release();
    throw error;
  }
}

class Staged implements StagedHost {
  readonly label: string;
  readonly releaseId: string;
  readonly current: string | undefined;
  readonly wasCurrent: boolean;
  /** Since when the host waits for others: that time is not the host's own. */
  private idleSince = Date.now();

  constructor(
    private readonly step: {
      session: HostSession;
      held: HeldLock;
      lock: LockOptions;
      releaseId: string;
      snapshot: HostSnapshot;
      activation: Activation;
    },
  ) {
    this.label = step.session.label;
    this.releaseId = step.releaseId;
    this.current = step.snapshot.current;
    this.wasCurrent = wasCurrent(parseHistory(step.snapshot.history), step.releaseId);
  }

  async runCommand(
    command: string,
    timeoutSeconds: number,
    onOutput?: (chunk: Buffer) => void,
  ): Promise<CommandRun> {
    const { session } = this.step;
    this.wait();
    session.phase('release-command');
    try {
      return await execInRelease(session, this.releaseId, command, {
        timeoutSeconds,
        ...(onOutput ? { onOutput } : {}),
      });
    } finally {
      this.idleSince = Date.now();
    }
  }

  async activate(): Promise<HostResult> {
    this.wait();
    try {
      return await this.step.activation();
    } finally {
      await this.step.held.release();
    }
  }

  async abandon(releaseCommandFailure?: string): Promise<void> {
    const { session, lock } = this.step;
    try {
      if (releaseCommandFailure !== undefined) {
        await record(session, [
          {
            event: 'release-command-failed',
            release: this.releaseId,
            reason: releaseCommandFailure,
            time: new Date().toISOString(),
            by: lock.holder,
            ...(lock.run ? { run: lock.run } : {}),
          },
        ]);
      }
    } catch (error) {
      session.log.warning(
        `host ${session.label}: could not record that the release command failed: ${formatError(error)}`,
      );
    } finally {
      await this.step.held.release();
    }
  }

  private wait(): void {
    this.step.session.waitedMs += Date.now() - this.idleSince;
  }
}
