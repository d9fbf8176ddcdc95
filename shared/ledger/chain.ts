import { ConfigurationError } from '../errors.js';
import type { GitHub } from '../github.js';
import type { Log } from '../log.js';
import { holderGone, holderOf, readTagRef, type Holder } from './holders.js';
import { pacer, type Pacer, type WaitBounds } from './pace.js';
import { readRelease, type LedgerEntry } from './releases.js';
import type { LedgerIndex, LedgerScope, LedgerTag } from './tags.js';

/**
 * The release a new one chains to: the newest published release numbered below it. A lower
 * number still being made by another job is waited for, so the chain stays a line; one whose
 * job ended without publishing is passed over.
 */

export interface PreviousOptions {
  /** The new release's number; undefined for an explicit ID, which follows the newest. */
  below: number | undefined;
  wait: WaitBounds;
  log: Log;
}

/** Tags without a published release passed over before the walk gives up. */
export const CHAIN_WALK = 20;

type Settled = { entry: LedgerEntry } | 'gone';

/** What a walk down the ledger carries: where, its bounded waits, its log. */
interface Walk {
  github: GitHub;
  scope: LedgerScope;
  pace: Pacer;
  log: Log;
}

/** Polls a tag until its release is published, its tag is deleted, or its job has ended. */
async function settle(walk: Walk, tag: LedgerTag, holder: Holder): Promise<Settled> {
  const { github, scope, pace } = walk;
  for (let poll = 1; await pace.pause(); poll++) {
    const entry = await readRelease(github, scope, tag.tag);
    pace.spend(1);
    if (entry) return { entry };
    const at = await readTagRef(github, scope, tag.tag);
    pace.spend(1);
    if (at !== tag.object.sha) return 'gone';
    if (poll % 3 === 0) {
      pace.spend(1);
      if (await holderGone(github, scope, holder)) return 'gone';
    }
  }
  throw new ConfigurationError({
    subject: `release tag ${tag.tag}`,
    problem: `another release job (run ${holder.runId}, attempt ${holder.attempt}) still holds it without publishing, after ${pace.spent} checks`,
    hint: `let that job finish or cancel it, then run this one again (a cancelled job removes its tag)`,
  });
}

/** What a tag without a published release is: being made by a running job, or left behind. */
async function pending(walk: Walk, tag: LedgerTag): Promise<Settled> {
  const { github, scope } = walk;
  const holder = await holderOf(github, scope, tag);
  if (!holder || (await holderGone(github, scope, holder))) {
    walk.log.info(`${tag.tag} has no published release and no running job holds it: passed over`);
    return 'gone';
  }
  walk.log.info(
    `Waiting for the release job that holds ${tag.tag} (run ${holder.runId}) to publish or give up`,
  );
  return settle(walk, tag, holder);
}

export async function previousRelease(
  github: GitHub,
  scope: LedgerScope,
  index: LedgerIndex,
  options: PreviousOptions,
): Promise<LedgerEntry | undefined> {
  const below = options.below ?? Number.POSITIVE_INFINITY;
  const candidates = index.tags.filter((tag) => tag.number < below).reverse();
  const walk = { github, scope, pace: pacer(github, options.wait), log: options.log };
  for (const [passed, tag] of candidates.entries()) {
    if (passed >= CHAIN_WALK) break;
    const entry = await readRelease(github, scope, tag.tag);
    if (entry) return entry;
    const settled = await pending(walk, tag);
    if (settled !== 'gone') return settled.entry;
  }
  if (candidates.length > CHAIN_WALK) {
    throw new ConfigurationError({
      subject: `ledger ${scope.app}/${scope.environment}`,
      problem: `none of the ${CHAIN_WALK} tags below the new release has a published release, so it has nothing to chain to`,
      hint: 'delete the tags of releases that will never be published',
    });
  }
  return undefined;
}
