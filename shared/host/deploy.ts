import { renderEnvFile } from '../dotenv.js';
import { digestOf } from '../manifest.js';
import { activate, hostResult, record, type Commands, type HostResult } from './activate.js';
import { parseHistory, previousGood, releasesToPrune } from './history.js';
import type { HostSnapshot } from './scripts/inspect.js';
import { checkReleaseId, pruneScript } from './scripts/release.js';
import { checkSharedPaths, cleanScript } from './scripts/root.js';
import { HostSession, type StepOptions } from './session.js';
import { stageHost, type StagedHost } from './staged.js';
import type { Transport } from './transport.js';
import { transferRelease, type HostRelease } from './transfer.js';

export interface DeployOptions extends StepOptions, Commands {
  release: HostRelease;
  /** Releases kept on the host (current and the previous good one always are). */
  keep: number;
  /** Directories kept across releases under `shared/`, linked into each release. */
  sharedPaths: readonly string[];
}

/**
 * The first half of a deploy: lock, upload unless the host has the release; nothing switched,
 * the lock kept until the staged host is activated (the second half) or abandoned.
 */
export async function stageDeploy(
  transport: Transport,
  options: DeployOptions,
): Promise<StagedHost> {
  const { release } = options;
  const id = checkReleaseId(release.id);
  const sharedPaths = checkSharedPaths(options.sharedPaths);
  const envFile = renderEnvFile(release.env);
  const session = new HostSession(transport, options);
  return stageHost(session, options.lock, id, async (token, snapshot) => {
    const onHost = placeOnHost(session, snapshot, release);
    await session.beforeChange(options.beforeChange);
    await clean(session, snapshot);
    if (onHost === 'same') {
      session.log.info(`host ${session.label}: ${id} is already on the host; nothing to upload`);
    } else {
      await transferRelease(session, {
        release,
        envFile,
        sharedPaths,
        replace: onHost === 'replace',
        tools: snapshot.tools,
        base: baseOf(snapshot),
      });
    }
    return () => switchDeployed(session, { options, token, snapshot, id, same: onHost === 'same' });
  });
}

/** The second half of a deploy: switch, bring up (or back), record, prune. */
async function switchDeployed(
  session: HostSession,
  step: {
    options: DeployOptions;
    token: string;
    snapshot: HostSnapshot;
    id: string;
    same: boolean;
  },
): Promise<HostResult> {
  const { options, snapshot, id } = step;
  const previousId = snapshot.current;
  const present = new Set(snapshot.releases.map((r) => r.id).concat(id));
  const fallback =
    previousId !== undefined && previousId !== id && present.has(previousId)
      ? previousId
      : previousGood(parseHistory(snapshot.history), id, present);
  const activation = await activate({
    session,
    token: step.token,
    commands: options,
    id,
    fallback,
    kind: 'activated',
    from: previousId,
    digest: options.release.digest,
    by: options.lock.holder,
    run: options.lock.run,
  });
  await record(session, activation.events);
  const pruned = await prune(
    session,
    {
      present: [...present],
      current: activation.currentId,
      history: [...parseHistory(snapshot.history), ...activation.events],
      keep: options.keep,
    },
    snapshot.tools.stamps,
  );
  return hostResult(session, activation, {
    releaseId: id,
    previousId,
    skippedUpload: step.same,
    pruned,
  });
}

/**
 * Whether the host has this release already (the same release.json), a different one under its
 * ID, or none; refuses what the deploy could not do: replace the current release, or unpack
 * without tar.
 */
function placeOnHost(
  session: HostSession,
  snapshot: HostSnapshot,
  release: HostRelease,
): 'same' | 'replace' | 'upload' {
  const { id } = release;
  const existing = snapshot.releases.find((r) => r.id === id);
  const same =
    existing?.manifest !== undefined &&
    digestOf(existing.manifest) === digestOf(release.manifestBytes);
  if (same) return 'same';
  if (existing && snapshot.current === id) {
    throw session.error({
      problem: `releases/${id} is current but holds a different release.json than release ${id}`,
      hint: 'releases never change: deploy a new release ID',
    });
  }
  if (!snapshot.tar) throw session.noTar();
  return existing ? 'replace' : 'upload';
}

async function clean(session: HostSession, snapshot: HostSnapshot): Promise<void> {
  session.phase('clean');
  if (snapshot.leftovers.length > 0) {
    session.log.info(
      `host ${session.label}: removing leftovers of an interrupted deploy: ${snapshot.leftovers.join(', ')}`,
    );
  }
  await session.must('cleaning leftovers', cleanScript(session.root));
}

/**
 * The release a new one is built from: current when it is on the host, else the newest good
 * one there. Its files that are as shipped are linked, not sent.
 */
function baseOf(snapshot: HostSnapshot): string | undefined {
  const present = new Set(snapshot.releases.map((r) => r.id));
  if (snapshot.current !== undefined && present.has(snapshot.current)) return snapshot.current;
  return previousGood(parseHistory(snapshot.history), undefined, present);
}

async function prune(
  session: HostSession,
  what: Parameters<typeof releasesToPrune>[0],
  stamps: boolean,
): Promise<string[]> {
  const ids = releasesToPrune(what);
  if (ids.length === 0) return [];
  session.phase('prune');
  await session.must('pruning old releases', pruneScript(session.root, ids, stamps));
  session.log.info(`host ${session.label}: pruned ${ids.join(', ')}`);
  return ids;
}
