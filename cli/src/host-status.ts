import {
  fleetResult,
  releaseNumber,
  type HistoryEvent,
  type HostOutcome,
  type HostState,
  type LockState,
  type Runs,
} from './core.js';
import type { Reached } from './hosts.js';

/** What `status` tells of one host. */
export interface HostStatus {
  host: string;
  reached: boolean;
  /** Why the host could not be read. */
  problem: string | null;
  /** Whether the deploy root exists there: a mistyped `--path` shows as false. */
  exists: boolean;
  current: string | null;
  /** The last good release before current: what `rollback previous` goes back to. */
  previous: string | null;
  /** The releases on disk, newest first. */
  releases: {
    id: string;
    status: 'good' | 'failed' | 'unknown';
    /** The bundle digest its release.json names. */
    digest: string | null;
    /** sha256 of its release.json. */
    manifest: string | null;
    lastEvent: string | null;
  }[];
  lock: LockState | null;
  /** The newest events of the host's history, newest first. */
  events: HistoryEvent[];
  /** Directories of interrupted deploys. */
  leftovers: string[];
}

export interface StatusReport {
  app: string;
  environment: string;
  path: string;
  /** The release every host runs, when they all run the same one. */
  release: string | null;
  /** Hosts run different releases (or some run nothing). */
  split: boolean;
  hosts: HostStatus[];
}

function newestFirst(a: { id: string }, b: { id: string }): number {
  const na = releaseNumber(a.id);
  const nb = releaseNumber(b.id);
  if (na !== undefined && nb !== undefined) return nb - na;
  if (na !== undefined || nb !== undefined) return na === undefined ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export function hostStatus(reading: Reached<HostState>, events: number): HostStatus {
  const host = reading.host.label;
  const state = reading.value;
  if (!state) {
    const none = { current: null, previous: null, releases: [], lock: null, events: [] };
    return {
      host,
      reached: false,
      problem: reading.problem,
      exists: false,
      ...none,
      leftovers: [],
    };
  }
  return {
    host,
    reached: true,
    problem: null,
    exists: state.exists,
    current: state.current ?? null,
    previous: state.previous ?? null,
    releases: state.releases
      .map((release) => ({
        id: release.id,
        status: release.status,
        digest: release.digest ?? null,
        manifest: release.manifestDigest ?? null,
        lastEvent: release.lastEvent ?? null,
      }))
      .sort(newestFirst),
    lock: state.lock ?? null,
    events: events > 0 ? state.history.slice(-events).reverse() : [],
    leftovers: state.leftovers,
  };
}

function runsOf(status: HostStatus): Runs {
  if (!status.reached) return { kind: 'unknown' };
  return status.current === null ? { kind: 'nothing' } : { kind: 'release', id: status.current };
}

/**
 * Where the fleet stands, by the rollout's own reckoning (shared/fleet's `fleetResult`): each
 * host as one that this step left as it was.
 */
export function statusReport(
  scope: Omit<StatusReport, 'release' | 'split' | 'hosts'>,
  hosts: HostStatus[],
): StatusReport {
  const outcomes = hosts.map((status): HostOutcome => {
    const runs = runsOf(status);
    return {
      host: status.host,
      reached: status.reached,
      switched: false,
      before: runs,
      after: runs,
      healthy: undefined,
      failure: undefined,
    };
  });
  const fleet = fleetResult(outcomes, { releaseId: '', rollback: false });
  return { ...scope, release: fleet.release ?? null, split: fleet.split, hosts };
}
