import type { Problem } from '../errors.js';
import type { LockRecord } from './scripts/lock.js';

/** A host's deploy lock as read: who holds it, since when, and whether its heartbeat stopped. */
export interface LockState {
  holder: string;
  run: string | undefined;
  started: string | undefined;
  heartbeatAgeSeconds: number | undefined;
  stale: boolean;
}

/** What a lock's info, heartbeat and the host's clock say of it. */
export function describeLock(
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
    // Every lock is made with its heartbeat: one without is left by an older version, or broken.
    stale: heartbeat === undefined || (age !== undefined && age > staleSeconds),
  };
}

/** Why a deploy cannot take the lock, and what to do about it. */
export function lockProblem(lock: LockState, waited: number): Omit<Problem, 'subject'> {
  const since = lock.started ? ` since ${lock.started}` : '';
  const run = lock.run ? ` (${lock.run})` : '';
  const held = `deploy lock held by ${lock.holder}${since}${run}`;
  if (lock.stale) {
    return {
      problem: `${held} is silent (no heartbeat for ${lock.heartbeatAgeSeconds ?? '?'} s): the next deploy takes it over`,
    };
  }
  return waited > 0
    ? { problem: `${held}; waited ${waited} s` }
    : { problem: held, hint: 'set lock-timeout to wait for it' };
}
