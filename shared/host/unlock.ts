import { breakLockScript } from './scripts/lock.js';
import { EXIT } from './scripts/root.js';
import { DEFAULT_STALE_SECONDS, HostSession, type SessionOptions } from './session.js';
import { describeLock, type LockState } from './lock-state.js';
import type { Transport } from './transport.js';

export interface UnlockOptions extends SessionOptions {
  /** Clear a live lock too: its holder may have lost its connection while still running. */
  force: boolean;
  staleSeconds?: number;
}

/**
 * What became of a host's deploy lock: none there; `live`, a holder keeps it fresh and it stays;
 * `cleared`, it was dead (or forced) and is gone; `changed`, another deploy took it meanwhile.
 */
export interface UnlockResult {
  host: string;
  outcome: 'none' | 'live' | 'cleared' | 'changed';
  lock: LockState | undefined;
}

/**
 * Clears a dead deploy lock by hand: the one whose heartbeat stopped (its deploy was killed).
 * A live lock stays unless `force`; a lock that changed hands since it was read always stays.
 */
export async function unlockHost(
  transport: Transport,
  options: UnlockOptions,
): Promise<UnlockResult> {
  const session = new HostSession(transport, options);
  const snapshot = await session.inspect();
  const host = transport.label;
  if (!snapshot.lock) return { host, outcome: 'none', lock: undefined };
  const { info, heartbeat } = snapshot.lock;
  const lock = describeLock(
    info,
    heartbeat,
    snapshot.now,
    options.staleSeconds ?? DEFAULT_STALE_SECONDS,
  );
  if (!lock.stale && !options.force) return { host, outcome: 'live', lock };
  const result = await session.exec(breakLockScript(session.root, info));
  if (result.code === EXIT.lockHeld) return { host, outcome: 'changed', lock };
  if (result.code !== 0) throw session.failure('removing the deploy lock', result);
  return { host, outcome: 'cleared', lock };
}
