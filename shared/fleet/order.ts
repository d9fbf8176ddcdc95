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
  const newest = latest.manifest.id;
  const limit = releaseNumber(newest) ?? Number.POSITIVE_INFINITY;
  const states = await hostStates(options);
  const places = new Map<string, Promise<number | undefined>>();
  const ahead: HostState[] = [];
  for (const state of states) {
    const current = state.current;
    if (current === undefined || current === newest) continue;
    if (!places.has(current)) places.set(current, placeOf(options, current));
    const place = await places.get(current);
    if (place === undefined || place > limit) ahead.push(state);
  }
  if (ahead.length === 0) return;
  const ids = [...new Set(ahead.map((state) => state.current))];
  const running =
    ahead.length === states.length && ids.length === 1
      ? `the hosts run ${ids[0]}`
      : ahead.map((state) => `host ${state.host} runs ${state.current}`).join(', ');
  throw new ConfigurationError({
    input: 'release-id',
    problem: `latest would move hosts backwards: ${running}, the newest published release is ${newest}`,
    hint: `deploy ${newest} explicitly to roll back`,
  });
}
