import { shellQuote as q } from '../../names.js';
import { EXIT, inRoot, section } from './root.js';

/** What a lock says of its holder, written as JSON into `.deploy/lock/info`. */
export interface LockRecord {
  /** Who deploys: actor, workflow, run. */
  holder: string;
  run?: string;
  pid: number;
  machine: string;
  started: string;
  release?: string;
}

/**
 * Takes the lock: mkdir is atomic, so one deploy wins. The winner writes who it is, a token that
 * proves ownership later, and a heartbeat (the host's clock, in seconds) it keeps fresh. A loser
 * exits with EXIT.lockHeld and prints who holds it and the heartbeat, for the message and the
 * staleness test.
 */
export function acquireLockScript(
  root: string,
  record: LockRecord,
  token: string,
  nonce: string,
): string {
  return inRoot(
    root,
    [
      `mkdir -p .deploy || exit 1`,
      `if mkdir .deploy/lock 2>/dev/null; then`,
      `  printf '%s\\n' ${q(JSON.stringify(record))} > .deploy/lock/info &&`,
      `  printf '%s\\n' ${q(token)} > .deploy/lock/token &&`,
      `  date +%s > .deploy/lock/heartbeat && exit 0`,
      `  rm -rf .deploy/lock; exit 1`,
      `fi`,
      `[ -d .deploy/lock ] || exit 1`,
      section(nonce, 'info'),
      `cat .deploy/lock/info 2>/dev/null`,
      section(nonce, 'heartbeat'),
      `cat .deploy/lock/heartbeat 2>/dev/null`,
      section(nonce, 'now'),
      `date +%s`,
      `exit ${EXIT.lockHeld}`,
    ],
    true,
  );
}

/** A check that the lock is still ours: a script that changes `current` runs only while it is. */
export function lockIsOurs(token: string, onLost: string = `exit ${EXIT.lockLost}`): string {
  return `[ "$(cat .deploy/lock/token 2>/dev/null)" = ${q(token)} ] || ${onLost}`;
}

/** Keeps the lock fresh; fails with EXIT.lockLost when the lock is no longer ours. */
export function heartbeatScript(root: string, token: string): string {
  return inRoot(root, [
    lockIsOurs(token),
    `date +%s > .deploy/lock/heartbeat.tmp && mv .deploy/lock/heartbeat.tmp .deploy/lock/heartbeat`,
  ]);
}

/** Releases the lock if it is still ours: a lock another deploy holds now stays with it. */
export function releaseLockScript(root: string, token: string): string {
  return inRoot(root, [`[ -d .deploy/lock ] || exit 0`, lockIsOurs(token), `rm -rf .deploy/lock`]);
}

/**
 * Removes the lock by hand (`brr unlock`), only while it is still the one that was looked at:
 * its `info` unchanged. A lock that changed hands meanwhile stays, and the script exits with
 * EXIT.lockHeld; no lock at all is success.
 */
export function breakLockScript(root: string, info: string): string {
  return inRoot(root, [
    `[ -d .deploy/lock ] || exit 0`,
    `[ "$(cat .deploy/lock/info 2>/dev/null)" = ${q(info)} ] || exit ${EXIT.lockHeld}`,
    `rm -rf .deploy/lock`,
  ]);
}
