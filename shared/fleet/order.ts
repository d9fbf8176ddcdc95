import { ConfigurationError } from '../errors.js';
import type { GitHub } from '../github.js';
import { readHostState, type HostState } from '../host/state.js';
import { findRelease, type LedgerScope } from '../ledger.js';
import type { Log } from '../log.js';
import { releaseNumber } from '../names.js';
import type { AllowedSigner } from '../signature.js';
import { verifyManifest, type VerifiedManifest } from '../verify.js';
import type { Fleet } from './connect.js';

export interface OrderOptions {
  github: GitHub;
  scope: LedgerScope;
  allowedSigners: readonly AllowedSigner[];
  /** The hosts, connected once for the whole step. */
  fleet: Fleet;
  root: string;
  log: Log;
}

/** What each host runs and holds, read over the step's connections: reading changes nothing. */
export async function hostStates(
  options: Pick<OrderOptions, 'fleet' | 'root' | 'log'>,
): Promise<HostState[]> {
  const connections = await options.fleet.connections();
  return Promise.all(
    connections.map((c) => readHostState(c.transport, { root: options.root, log: options.log })),
  );
}

/**
 * A release's place in the ledger's order. A numbered release `v<N>` is at N. A release made
 * with an explicit ID sits just after the release its signed release.json links to (it was made
 * after that one, and before the next number), so it is read from the ledger; one the ledger no
 * longer has cannot be placed: undefined.
 */
async function placeOf(options: OrderOptions, id: string): Promise<number | undefined> {
  const number = releaseNumber(id);
  if (number !== undefined) return number;
  const entry = await findRelease(options.github, options.scope, id);
  if (entry === undefined) return undefined;
  const { manifest } = await verifyManifest(
    options.github,
    options.scope,
    entry,
    options.allowedSigners,
  );
  const previous = manifest.previous === null ? 0 : releaseNumber(manifest.previous.id);
  return previous === undefined ? undefined : previous + 0.5;
}

/**
 * `latest` never moves a host backwards: when a host runs a release that comes after the newest
 * published one (the newest was deleted, or unpublished), the run stops before any change and
 * names both. Deploying an explicit ID is how to go back on purpose.
 */
export async function checkNotBackwards(
  options: OrderOptions,
  latest: VerifiedManifest,
): Promise<void> {
  const states = await hostStates(options);
  const places = new Map<string, number | undefined>();
  for (const { current } of states) {
    if (current !== undefined && !places.has(current)) {
      places.set(current, await placeOf(options, current));
    }
  }
  const refusal = backwardsRefusal(states, latest.manifest.id, places);
  if (refusal) throw refusal;
}

/**
 * The refusal of `latest` (`newest`) over hosts of which some run a release placed after it, or
 * one that cannot be placed (`places` maps each current release to its place, if it has one).
 */
export function backwardsRefusal(
  states: readonly Pick<HostState, 'host' | 'current'>[],
  newest: string,
  places: ReadonlyMap<string, number | undefined>,
): ConfigurationError | undefined {
  const limit = releaseNumber(newest) ?? Number.POSITIVE_INFINITY;
  const ahead = states.filter(({ current }) => {
    if (current === undefined || current === newest) return false;
    const place = places.get(current);
    return place === undefined || place > limit;
  });
  if (ahead.length === 0) return undefined;
  const ids = new Set(ahead.map((state) => state.current));
  const running =
    ahead.length === states.length && ids.size === 1
      ? `the hosts run ${ahead[0]!.current}`
      : ahead.map((state) => `host ${state.host} runs ${state.current}`).join(', ');
  return new ConfigurationError({
    input: 'release-id',
    problem: `latest would move hosts backwards: ${running}, the newest published release is ${newest}`,
    hint: `deploy ${newest} explicitly to roll back`,
  });
}
