import { foldedTail } from '../errors.js';
import { execInRelease } from './activate.js';
import { LiveOutput } from './live-output.js';
import { destroyScript } from './scripts/root.js';
import { HostSession, type StepOptions } from './session.js';
import type { Transport } from './transport.js';

/** How long a stop command may take before the teardown gives up, removing nothing. */
const STOP_TIMEOUT_SECONDS = 120;

export interface DestroyOptions extends Omit<StepOptions, 'beforeChange'> {
  /** Run in the current release before anything is removed: stops the app. */
  stopCommand?: string;
}

/**
 * Tears a host's deploy down (a closed pull request's preview): stops the app with `stopCommand`
 * in the current release, then removes the deploy root. A failed stop leaves everything in place.
 */
export async function destroyHost(
  transport: Transport,
  options: DestroyOptions,
): Promise<{ host: string; removed: boolean; stopped: boolean }> {
  const session = new HostSession(transport, options);
  const { root } = session;
  session.phase('inspect');
  const snapshot = await session.inspect();
  if (!snapshot.exists) return { host: transport.label, removed: false, stopped: false };
  // Checked before the lock, whose directory would make any directory look like a deploy root.
  if (!snapshot.deployRoot) {
    throw session.error({
      input: 'path',
      problem: `${root} does not look like a deploy root (no .deploy or releases inside)`,
      hint: 'not removing it',
    });
  }
  return session.withLock(options.lock, undefined, async () => {
    let stopped = false;
    if (options.stopCommand !== undefined && snapshot.current !== undefined) {
      session.log.info(`host ${session.label}: stop ${snapshot.current}: ${options.stopCommand}`);
      const live = new LiveOutput(session.log);
      const stop = await execInRelease(session, snapshot.current, options.stopCommand, {
        timeoutSeconds: STOP_TIMEOUT_SECONDS,
        onOutput: live.write,
      });
      live.end();
      if (!stop.ok) {
        const output = stop.output ? `; last output: ${foldedTail(stop.output)}` : '';
        throw session.error({
          problem: `stop command failed in ${snapshot.current}; nothing removed${output}`,
        });
      }
      stopped = true;
    }
    await session.must(`removing ${root}`, destroyScript(root));
    return { host: transport.label, removed: true, stopped };
  });
}
