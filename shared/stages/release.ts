import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { FoundBuild } from '../builds.js';
import type { ActionContext } from '../context.js';
import { Cancelled, ConfigurationError } from '../errors.js';
import { gitHubClient, gitHubMessage, statusOf, tokenProblem, type GitHub } from '../github.js';
import {
  abandon,
  previousRelease,
  readIndex,
  reserve,
  type Holding,
  type LedgerIndex,
  type LedgerScope,
} from '../ledger.js';
import { releaseNumber } from '../names.js';
import type { StageResult } from './result.js';
import {
  checkInputs,
  maskSecretValues,
  type CheckedInputs,
  type ReleaseInputs,
} from '../release/inputs.js';
import { locateBuild } from '../release/locate.js';
import { publish, type ReleaseOutputs } from '../release/publish.js';

export { releaseInputs, type ReleaseInputs } from '../release/inputs.js';
export type { ReleaseOutputs } from '../release/publish.js';

/** How long a release waits for another job's release of a lower number, and how many checks. */
const WAIT = { seconds: 300, requests: 60 };

interface Job {
  inputs: ReleaseInputs;
  checked: CheckedInputs;
  context: ActionContext;
  github: GitHub;
  scope: LedgerScope;
  scratch: string;
  holding: Holding;
  progress: { step: string };
}

/**
 * Pairs a build with an environment's config as the next release of its ledger: the inputs
 * checked, the ledger's tags read, the build found (and its size checked), a number reserved,
 * then the release made draft-first. Anything that fails after the reservation is undone.
 */
export async function release(
  inputs: ReleaseInputs,
  context: ActionContext,
  checked?: CheckedInputs,
): Promise<StageResult<ReleaseOutputs>> {
  checked ??= await checkRelease(inputs, context);
  const github = gitHubClient({ token: inputs.token, apiUrl: context.apiUrl, log: context.log });
  const scope = {
    owner: context.owner,
    repo: context.repo,
    app: checked.app,
    environment: inputs.environment,
  };
  const job: Job = {
    inputs,
    checked,
    context,
    github,
    scope,
    scratch: await mkdtemp(path.join(context.tempDir, 'release-')),
    holding: { tag: '' },
    progress: { step: 'reading the ledger' },
  };
  let leftovers: string[] = [];
  let found: FoundBuild | undefined;
  try {
    const index = await readIndex(github, scope);
    job.progress.step = 'finding the build';
    // The artifact and cache clients say a lot: folded, so the release's own lines stand out.
    found = await context.log.group(`Finding the build of ${checked.sha}`, () =>
      locateBuild({
        ...checked,
        token: inputs.token ?? '',
        github,
        scope,
        index,
        context,
        scratch: job.scratch,
      }),
    );
    return await unlessAborted(context.signal, makeRelease(job, index, found)).catch(
      async (error: unknown) => {
        leftovers = await undo(job, error);
        throw error;
      },
    );
  } catch (error) {
    throw failedAt(job.progress.step, `${checked.app}/${inputs.environment}`, leftovers, error);
  } finally {
    await rm(job.scratch, { recursive: true, force: true });
    // A cache restore puts the build where build-action keeps it: gone with the job's scratch.
    if (found?.source === 'cache') {
      await rm(path.dirname(found.bundlePath), { recursive: true, force: true });
    }
  }
}

/**
 * The release stage's "check inputs" step: secrets masked, then the key, recipients, config and
 * schema checked, with no request made.
 */
export function checkRelease(
  inputs: ReleaseInputs,
  context: ActionContext,
): Promise<CheckedInputs> {
  maskSecretValues(inputs.secrets, context.log);
  context.log.setSecret(inputs['signing-key']);
  return checkInputs(inputs, context);
}

/** Reserve a number, find the release it follows, publish. */
async function makeRelease(job: Job, index: LedgerIndex, found: FoundBuild) {
  const { github, scope, context, inputs, holding } = job;
  const step = (name: string) => {
    // Once cancelled, the draft and tag are being removed: no later step may start.
    context.signal.throwIfAborted();
    job.progress.step = name;
  };
  step('reserving the next release ID');
  const reservation = await reserve(github, scope, {
    index,
    ...(inputs['release-id'] !== undefined ? { id: inputs['release-id'] } : {}),
    holder: {
      runId: Number(context.runId),
      attempt: Number(context.runAttempt),
      build: job.checked.sha,
      nonce: randomBytes(12).toString('hex'),
    },
    ...(await defaultBranch(context)),
    claim: (claimed) => Object.assign(holding, { tag: claimed.tag, tagObject: claimed.tagObject }),
    log: context.log,
  });
  context.log.info(`Reserved ${reservation.tag} for the build of ${job.checked.sha}`);
  step('finding the release it follows');
  const previous = await previousRelease(github, scope, reservation.index, {
    below: releaseNumber(reservation.id),
    wait: WAIT,
    log: context.log,
  });
  return publish({
    checked: job.checked,
    makeLatest: inputs['make-latest'],
    context,
    github,
    scope,
    reservation,
    previous,
    found,
    holding,
    step,
  });
}

/** The default branch as the event payload names it, which saves a request. */
async function defaultBranch(context: ActionContext): Promise<{ defaultBranch?: string }> {
  if (context.eventPath === undefined) return {};
  try {
    const event = JSON.parse(await readFile(context.eventPath, 'utf8')) as {
      repository?: { default_branch?: unknown };
    };
    const branch = event.repository?.default_branch;
    return typeof branch === 'string' && branch !== '' ? { defaultBranch: branch } : {};
  } catch {
    return {};
  }
}

async function undo(job: Job, error: unknown): Promise<string[]> {
  if (job.holding.tag === '') return [];
  const why =
    error instanceof Cancelled
      ? `cancelled while ${job.progress.step}`
      : `${job.progress.step} failed`;
  job.context.log.info(
    `Release not published (${why}): removing its draft and the tag ${job.holding.tag}`,
  );
  return abandon(job.github, job.scope, job.holding, job.context.log);
}

/**
 * Settles with `work`, or rejects with the signal's reason as soon as it aborts: a cancelled job
 * cannot wait for the request under way to finish.
 */
async function unlessAborted<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * A GitHub failure, said in one line with the step it stopped: by then any draft and tag are
 * gone, so running the job again starts over. The token's own problems name the input; mistakes
 * the user can fix pass through as they are.
 */
function failedAt(step: string, scope: string, leftovers: string[], error: unknown): unknown {
  if (error instanceof ConfigurationError || !(error instanceof Error)) return error;
  const token = tokenProblem(error, step);
  if (token) return token;
  if (error instanceof Cancelled) {
    const after = leftovers.length
      ? `${leftovers.join(' and ')} could not be removed: delete them`
      : 'nothing is left behind';
    return new Cancelled(`No release of ${scope} made: ${error.message} while ${step}; ${after}`, {
      cause: error,
    });
  }
  const status = statusOf(error);
  const why = gitHubMessage(error) ?? error.message;
  const after = leftovers.length
    ? `${leftovers.join(' and ')} could not be removed: delete them, then run the job again`
    : 'nothing is left behind, run the job again';
  const wrapped = new Error(
    `No release of ${scope} made: ${step} failed (${status !== undefined ? `${status} ` : ''}${why}); ${after}`,
    { cause: error },
  );
  wrapped.name = error.name;
  return wrapped;
}
