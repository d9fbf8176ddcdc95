import { digestOf } from '../manifest.js';
import { activate, hostResult, record, type Commands, type HostResult } from './activate.js';
import { checkReleaseId } from './scripts/release.js';
import { HostSession, type StepOptions } from './session.js';
import { stageHost, type StagedHost } from './staged.js';
import { manifestBuildDigest } from './state.js';
import type { Transport } from './transport.js';

export interface RollbackOptions extends StepOptions, Commands {
  /** The release to make current again; its directory must still be on the host. */
  to: string;
  /** When given, the release on the host must carry exactly this release.json. */
  manifestBytes?: Buffer;
}

/**
 * Makes a release still on the host current again: no upload, one rename, then restart and health
 * check (on failure, back to what was current). For `previous` and for putting a fleet back.
 */
export async function rollbackHost(
  transport: Transport,
  options: RollbackOptions,
): Promise<HostResult> {
  return (await stageRollback(transport, options)).activate();
}

/** The first half of a rollback: lock, check the release is still there; nothing switched. */
export async function stageRollback(
  transport: Transport,
  options: RollbackOptions,
): Promise<StagedHost> {
  const id = checkReleaseId(options.to);
  const session = new HostSession(transport, options);
  return stageHost(session, options.lock, id, async (token, snapshot) => {
    const target = snapshot.releases.find((r) => r.id === id);
    if (!target) {
      throw session.error({
        problem: `release ${id} is no longer on the host (releases there: ${snapshot.releases.map((r) => r.id).join(', ') || 'none'})`,
        hint: 'deploy it instead',
      });
    }
    if (
      options.manifestBytes &&
      (!target.manifest || digestOf(target.manifest) !== digestOf(options.manifestBytes))
    ) {
      throw session.error({
        problem: `releases/${id} holds a different release.json than release ${id}`,
        hint: 'deploy it to replace it',
      });
    }
    await session.beforeChange(options.beforeChange);
    return async () => {
      const previousId = snapshot.current;
      const activation = await activate({
        session,
        token,
        commands: options,
        id,
        fallback: previousId !== undefined && previousId !== id ? previousId : undefined,
        kind: 'rolled-back',
        from: previousId,
        digest: manifestBuildDigest(target.manifest),
        by: options.lock.holder,
        run: options.lock.run,
      });
      await record(session, activation.events);
      return hostResult(session, activation, {
        releaseId: id,
        previousId,
        skippedUpload: true,
        pruned: [],
      });
    };
  });
}
