import { ConfigurationError } from '../errors.js';
import type { Log } from '../log.js';
import { digestOf } from '../manifest.js';
import {
  parseHistory,
  previousGood,
  releasesToPrune,
  releaseStatuses,
  wasCurrent,
  type HistoryEvent,
  type ReleaseStatus,
} from './history.js';
import type { HostSnapshot } from './scripts/inspect.js';
import { checkReleaseId } from './scripts/release.js';
import { DEFAULT_STALE_SECONDS, HostSession } from './session.js';
import { describeLock, lockProblem, type LockState } from './lock-state.js';
import type { HostRelease } from './transfer.js';
import type { Transport } from './transport.js';

export interface HostReleaseState {
  id: string;
  /** The bundle digest its release.json names (build.digest). */
  digest: string | undefined;
  /** sha256 of its release.json. */
  manifestDigest: string | undefined;
  /** Its release.json and release.json.sig as the host holds them, unchecked. */
  manifest: Buffer | undefined;
  signature: Buffer | undefined;
  status: ReleaseStatus;
  /** The time of the last history event about it. */
  lastEvent: string | undefined;
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

/** What a deploy would do on one host: the dry run's answer. */
export interface DryRun {
  host: string;
  releaseId: string;
  current: string | undefined;
  previous: string | undefined;
  /** skip: the release is there with the same manifest; replace: there, but different. */
  upload: 'upload' | 'skip' | 'replace';
  /** Whether the release was current on the host before: deploying it again is a return. */
  wasCurrent: boolean;
  prune: string[];
  lock: LockState | undefined;
  /** What would stop the deploy: no tar, a different release of the same ID being current. */
  problems: string[];
}

interface ReadOptions {
  /** The deploy root (the `path` input). */
  root: string;
  log: Log;
  staleSeconds?: number;
}

/** The bundle digest a release.json names, read without trusting it: for display and history. */
export function manifestBuildDigest(manifest: Buffer | undefined): string | undefined {
  if (!manifest) return undefined;
  try {
    const value = JSON.parse(manifest.toString('utf8')) as { build?: { digest?: unknown } } | null;
    const digest = value?.build?.digest;
    return typeof digest === 'string' ? digest : undefined;
  } catch {
    return undefined;
  }
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
      manifest: r.manifest,
      signature: r.signature,
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
  options: ReadOptions,
): Promise<HostState> {
  const session = new HostSession(transport, options);
  const snapshot = await session.inspect();
  return hostState(transport.label, snapshot, options.staleSeconds ?? DEFAULT_STALE_SECONDS);
}

/** A dry run: what a deploy of `release` would upload, switch and prune. Changes nothing. */
export async function dryRunHost(
  transport: Transport,
  options: ReadOptions & {
    release: Pick<HostRelease, 'id' | 'manifestBytes'>;
    keep: number;
  },
): Promise<DryRun> {
  const id = checkReleaseId(options.release.id);
  const session = new HostSession(transport, options);
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
  // The host is named where the problem is shown: the problem alone.
  if (state.lock) problems.push(new ConfigurationError(lockProblem(state.lock, 0)).message);
  const present = [...new Set(snapshot.releases.map((r) => r.id).concat(id))];
  const event: HistoryEvent = { event: 'activated', release: id, time: new Date().toISOString() };
  return {
    host: transport.label,
    releaseId: id,
    current: state.current,
    previous: state.previous,
    upload,
    wasCurrent: wasCurrent(state.history, id),
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
