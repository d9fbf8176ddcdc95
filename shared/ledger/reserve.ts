import { ConfigurationError, foldedTail } from '../errors.js';
import { gitHubMessage, statusOf, type GitHub } from '../github.js';
import type { Log } from '../log.js';
import { reservationMessage, readTagRef, type Holder } from './holders.js';
import { restrictingRulesets } from './rules.js';
import {
  readIndex,
  repositoryOf,
  tagOf,
  tagPrefix,
  type LedgerIndex,
  type LedgerScope,
} from './tags.js';

/**
 * A release number is reserved by creating its tag: creating a ref is atomic, so two jobs never
 * hold the same number. The tag never points at the build's commit, which the Actions token may
 * not be allowed to tag (its workflow files may differ from the default branch's): it points,
 * through a tag object naming this job, at the default branch's head. Each refusal is told
 * apart by reading the ref afterwards, never by GitHub's wording.
 */

export interface Reservation {
  id: string;
  tag: string;
  /** The tag object the tag points at: this job's own, so a ref pointing at it is this job's. */
  tagObject: string;
  /** The ledger's tags as last read: after a lost race, with the racing job's tag in it. */
  index: LedgerIndex;
}

export interface ReserveOptions {
  index: LedgerIndex;
  /** An explicit ID; refused if taken. Default: the next `v<N>`. */
  id?: string;
  holder: Holder;
  /** The default branch, when the event says; else one request asks. */
  defaultBranch?: string;
  /** Told of each tag about to be created, so a cancelled job can remove it. */
  claim?: (reservation: Reservation) => void;
  log: Log;
}

/** Numbers skipped for names GitHub will not give out again, before giving up. */
const MAX_SKIPS = 3;
/** Tries in all: races lost, skips, a default branch that moved. */
const MAX_TRIES = 8;

type Head = { name: string; sha: string };
type Outcome = 'made' | 'taken' | { moved: Head } | { refused: string };

async function branchHead(github: GitHub, scope: LedgerScope, branch: string | undefined) {
  const name =
    branch ?? (await github.rest.repos.get({ ...repositoryOf(scope) })).data.default_branch;
  const { data } = await github.rest.git.getRef({ ...repositoryOf(scope), ref: `heads/${name}` });
  return { name, sha: data.object.sha };
}

/** The tag object naming this job, at the commit: what the ref will point at. */
async function tagObject(
  github: GitHub,
  scope: LedgerScope,
  tag: { name: string; commit: string; holder: Holder },
) {
  const { data } = await github.rest.git.createTag({
    ...repositoryOf(scope),
    tag: tag.name,
    message: reservationMessage(tag.holder),
    object: tag.commit,
    type: 'commit',
  });
  return data.sha;
}

/** Creates the ref; a 422 or 403 is read for what it is by looking at the ref and the head. */
async function createRef(
  github: GitHub,
  scope: LedgerScope,
  reservation: Reservation,
  head: Head,
): Promise<Outcome> {
  try {
    await github.rest.git.createRef({
      ...repositoryOf(scope),
      ref: `refs/tags/${reservation.tag}`,
      sha: reservation.tagObject,
    });
    return 'made';
  } catch (error) {
    const status = statusOf(error);
    if (status === 403) {
      // The head moved on to other workflow files since it was read; else the token lacks
      // contents: write, which the stage reports as the token's problem.
      const now = await branchHead(github, scope, head.name);
      if (now.sha !== head.sha) return { moved: now };
      throw error;
    }
    if (status !== 422) throw error;
    const holder = await readTagRef(github, scope, reservation.tag);
    // A retried request whose first answer was lost finds its own tag.
    if (holder === reservation.tagObject) return 'made';
    if (holder !== undefined) return 'taken';
    return { refused: foldedTail(gitHubMessage(error) ?? 'refused') };
  }
}

function exists(scope: LedgerScope, id: string): ConfigurationError {
  return new ConfigurationError({
    input: 'release-id',
    problem: `release ${id} of ${scope.app}/${scope.environment} exists already; releases are never overwritten`,
  });
}

async function refusal(
  github: GitHub,
  scope: LedgerScope,
  tag: string,
  got: string,
): Promise<ConfigurationError | undefined> {
  const rulesets = await restrictingRulesets(github, scope, tag);
  if (!rulesets?.length) return undefined;
  return new ConfigurationError({
    subject: `release tag ${tag}`,
    problem: `GitHub refuses to create it: the tag ruleset ${rulesets.map((name) => JSON.stringify(name)).join(', ')} restricts creating it`,
    got,
    hint: `let release jobs create refs/tags/${tagPrefix(scope)}v* (add GitHub Actions to the ruleset's bypass list, or exclude those tags) in the repository's Settings, Rules, Rulesets`,
  });
}

/** A name GitHub will not give out again: explicit, or after every skip allowed. */
function burned(tag: string, got: string, explicit: boolean): ConfigurationError {
  return new ConfigurationError({
    ...(explicit ? { input: 'release-id' } : {}),
    subject: `release tag ${tag}`,
    problem: `GitHub refuses to create it${explicit ? '' : `, and the ${MAX_SKIPS} names before it`}: a release that was deleted used the name, and immutable releases never give a name out again`,
    got,
    ...(explicit ? { hint: 'choose another release-id' } : {}),
  });
}

/** Reserves the next release number (or the explicit ID) for this job. */
export async function reserve(
  github: GitHub,
  scope: LedgerScope,
  options: ReserveOptions,
): Promise<Reservation> {
  let head = await branchHead(github, scope, options.defaultBranch);
  let index = options.index;
  let next = index.highest + 1;
  let skips = 0;
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const id = options.id ?? `v${next}`;
    const tag = tagOf(scope, id);
    const reservation = {
      id,
      tag,
      tagObject: await tagObject(github, scope, {
        name: tag,
        commit: head.sha,
        holder: options.holder,
      }),
      index,
    };
    options.claim?.(reservation);
    const outcome = await createRef(github, scope, reservation, head);
    if (outcome === 'made') return reservation;
    if (typeof outcome === 'object' && 'moved' in outcome) {
      options.log.info(
        `${head.name} moved on to ${outcome.moved.sha} while reserving; tagging there`,
      );
      head = outcome.moved;
      continue;
    }
    if (options.id !== undefined && outcome === 'taken') throw exists(scope, id);
    if (outcome === 'taken') {
      options.log.info(`${tag} was taken by another release job; trying the next number`);
      index = await readIndex(github, scope);
      next = Math.max(next, index.highest) + 1;
      continue;
    }
    const ruled = await refusal(github, scope, tag, outcome.refused);
    if (ruled) throw ruled;
    if (options.id !== undefined || ++skips > MAX_SKIPS) {
      throw burned(tag, outcome.refused, options.id !== undefined);
    }
    options.log.info(
      `${tag} was used by a deleted immutable release and cannot be reused; skipping it`,
    );
    next++;
  }
  throw new ConfigurationError({
    subject: `ledger ${scope.app}/${scope.environment}`,
    problem: `no release number could be reserved in ${MAX_TRIES} tries: other release jobs keep taking them`,
    hint: 'run release jobs of one environment one at a time (concurrency in the workflow)',
  });
}
