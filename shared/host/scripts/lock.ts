import { createHash } from 'node:crypto';
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
 * The file that says who owns the lock: `owner-<hash of the token>`. Ownership passes by
 * renaming it, and rename(2) is atomic: of two deploys taking over the same dead lock, one wins.
 */
function ownerFile(token: string): string {
  return `.deploy/lock/owner-${createHash('sha256').update(token).digest('hex').slice(0, 32)}`;
}

/** Prints the owner files' hashes, one per line: how a lock's owner is named to a taker. */
const PRINT_OWNER = `for f in .deploy/lock/owner-*; do [ -f "$f" ] && printf '%s\\n' "\${f#.deploy/lock/owner-}"; done`;

function writeHeartbeat(token: string): string {
  const tmp = q(`.deploy/lock/heartbeat.tmp-${ownerFile(token).slice(-8)}`);
  return `date +%s > ${tmp} && mv ${tmp} .deploy/lock/heartbeat`;
}

/**
 * Takes the lock. It is made whole (owner, who, heartbeat) in `.deploy/lock.new-<id>`, then
 * renamed into place: rename(2) of a directory onto a name that does not exist is atomic, and
 * when `.deploy/lock` exists, POSIX mv moves ours inside it instead, which tells us we lost. So
 * a lock is never seen half-written, and a deploy killed at any point leaves either no lock or a
 * whole one whose heartbeat goes stale. A loser exits with EXIT.lockHeld and prints the holder,
 * its owner, its heartbeat and the host's clock.
 */
export function acquireLockScript(
  root: string,
  record: LockRecord,
  token: string,
  nonce: string,
): string {
  const id = ownerFile(token).slice(-32);
  const fresh = q(`.deploy/lock.new-${id}`);
  const nested = q(`.deploy/lock/lock.new-${id}`);
  const owner = q(ownerFile(token).replace('.deploy/lock/', `.deploy/lock.new-${id}/`));
  return inRoot(
    root,
    [
      `mkdir -p .deploy || exit 1`,
      `rm -rf ${fresh} && mkdir ${fresh} || exit 1`,
      `printf '%s\\n' ${q(JSON.stringify(record))} > ${fresh}/info && : > ${owner} && date +%s > ${fresh}/heartbeat || { rm -rf ${fresh}; exit 1; }`,
      `if [ ! -e .deploy/lock ] && mv ${fresh} .deploy/lock 2>/dev/null && [ -f ${q(ownerFile(token))} ]; then exit 0; fi`,
      `rm -rf ${fresh} ${nested} 2>/dev/null`,
      // Released between the two looks: the caller tries again at once.
      `if [ ! -d .deploy/lock ]; then ${section(nonce, 'gone')}; exit ${EXIT.lockHeld}; fi`,
      section(nonce, 'info'),
      `cat .deploy/lock/info 2>/dev/null`,
      section(nonce, 'owner'),
      PRINT_OWNER,
      section(nonce, 'heartbeat'),
      `cat .deploy/lock/heartbeat 2>/dev/null`,
      section(nonce, 'now'),
      `date +%s`,
      `exit ${EXIT.lockHeld}`,
    ],
    true,
  );
}

/**
 * Takes over a lock whose heartbeat is older than `staleSeconds` on the host's clock, owned by
 * `owner` (the hash `acquireLockScript` printed): checks the heartbeat again, then renames the
 * owner's file to ours, so only one taker wins, and a lock that changed hands meanwhile is left
 * alone. A lock without an owner file (made by an older version) is moved aside whole. Exits 0
 * once the lock is ours, EXIT.lockHeld when it is not to be taken (fresh again, or taken first).
 */
export function takeOverLockScript(
  root: string,
  options: { record: LockRecord; token: string; owner: string | undefined; staleSeconds: number },
): string {
  const { record, token, owner, staleSeconds } = options;
  const stale = [
    `beat=$(cat .deploy/lock/heartbeat 2>/dev/null)`,
    `case "$beat" in ''|*[!0-9]*) beat=0 ;; esac`,
    `[ $(( $(date +%s) - beat )) -gt ${Math.floor(staleSeconds)} ] || exit ${EXIT.lockHeld}`,
  ];
  if (owner === undefined || !/^[0-9a-f]{32}$/.test(owner)) {
    const aside = q(`.deploy/lock.stale-${ownerFile(token).slice(-12)}`);
    return inRoot(root, [
      `[ -d .deploy/lock ] || exit ${EXIT.lockHeld}`,
      `for f in .deploy/lock/owner-*; do [ -f "$f" ] && exit ${EXIT.lockHeld}; done`,
      ...stale,
      `mv .deploy/lock ${aside} 2>/dev/null`,
      `exit ${EXIT.lockHeld}`,
    ]);
  }
  return inRoot(root, [
    `[ -f .deploy/lock/owner-${owner} ] || exit ${EXIT.lockHeld}`,
    ...stale,
    `mv .deploy/lock/owner-${owner} ${q(ownerFile(token))} 2>/dev/null || exit ${EXIT.lockHeld}`,
    writeHeartbeat(token),
    `printf '%s\\n' ${q(JSON.stringify(record))} > .deploy/lock/info.tmp && mv .deploy/lock/info.tmp .deploy/lock/info`,
    `exit 0`,
  ]);
}

/** A check that the lock is still ours: a script that changes `current` runs only while it is. */
export function lockIsOurs(token: string, onLost: string = `exit ${EXIT.lockLost}`): string {
  return `[ -f ${q(ownerFile(token))} ] || ${onLost}`;
}

/** Keeps the lock fresh; fails with EXIT.lockLost when the lock is no longer ours. */
export function heartbeatScript(root: string, token: string): string {
  return inRoot(root, [lockIsOurs(token), writeHeartbeat(token)]);
}

/**
 * Releases the lock if it is still ours (a lock another deploy holds now stays with it), and
 * removes what an interrupted step left (`releases/*.tmp`, half-made links): while we hold the
 * lock, nobody else is making any. Ownership is given up by a rename first, so a deploy taking
 * the lock over at that moment never has its fresh lock removed.
 */
export function releaseLockScript(root: string, token: string): string {
  const released = q(`.deploy/lock/released-${ownerFile(token).slice(-32)}`);
  return inRoot(root, [
    `[ -d .deploy/lock ] || exit 0`,
    `mv ${q(ownerFile(token))} ${released} 2>/dev/null || exit ${EXIT.lockLost}`,
    `rm -rf releases/*.tmp current.tmp-* .deploy/lock`,
  ]);
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
