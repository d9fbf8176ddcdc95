import type { ActionContext } from '../context.js';
import { ConfigurationError } from '../errors.js';
import { checkToken, gitHubClient } from '../github.js';
import type { CheckedInputs as CheckedRelease, ReleaseInputs } from '../release/inputs.js';
import { recipientsOf } from '../secrets.js';
import { build, checkBuild, type BuildOutputs, type BuildPlan } from './build.js';
import type { RunInputs } from './inputs/run.js';
import type { ShipInputs } from './inputs/ship.js';
import { checkRelease, release, type ReleaseOutputs } from './release.js';
import type { StageResult } from './result.js';
import { checkRun, type CheckedRun } from './run-checks.js';
import { run, type RunOutputs } from './run.js';

export type ShipOutputs = BuildOutputs & ReleaseOutputs & RunOutputs;

/** The three stages' checked inputs: nothing has been uploaded, released or deployed yet. */
interface CheckedShip {
  build: BuildPlan;
  release: CheckedRelease;
  run: CheckedRun;
}

export async function ship(
  inputs: ShipInputs,
  context: ActionContext,
): Promise<StageResult<ShipOutputs>> {
  const checked = await checkShip(inputs, context);
  context.log.info('Build');
  const built = await build(inputs, context, checked.build);
  context.log.info(`Release ${inputs.environment}`);
  const released = await release(
    releaseInputsOf(inputs, built.outputs.sha),
    context,
    checked.release,
  );
  const id = released.outputs['release-id'];
  context.log.info(`Run ${id} on ${inputs.hosts.length} host(s)`);
  const ran = await run({ ...runInputsOf(inputs), 'release-id': id }, context, checked.run);
  return {
    outputs: { ...built.outputs, ...released.outputs, ...ran.outputs },
    summary: [built.summary, released.summary, ran.summary].join('\n'),
    ...(ran.failure ? { failure: ran.failure } : {}),
  };
}

function releaseInputsOf(inputs: ShipInputs, sha: string | undefined): ReleaseInputs {
  return { ...inputs, sha, 'release-id': undefined };
}

function runInputsOf(inputs: ShipInputs): Omit<RunInputs, 'release-id'> {
  return {
    ...inputs,
    path: inputs['deploy-path'],
    destroy: false,
    'destroy-confirm': undefined,
    'stop-command': undefined,
    'delete-releases': false,
  };
}

/**
 * Every input of the three stages checked with the stages' own checks, then what only the three
 * together can check, then the token (one request): a mistake anywhere stops the step before the
 * build uploads anything.
 */
async function checkShip(inputs: ShipInputs, context: ActionContext): Promise<CheckedShip> {
  const checked = {
    build: await checkBuild(inputs, context),
    release: await checkRelease(releaseInputsOf(inputs, undefined), context),
    run: checkRun(runInputsOf(inputs), context, { path: 'deploy-path' }),
  };
  await decryptsSecrets(checked.release, checked.run.identities);
  const github = gitHubClient({ token: inputs.token, apiUrl: context.apiUrl, log: context.log });
  await checkToken(github, { owner: context.owner, repo: context.repo });
  return checked;
}

/** The release's secrets are encrypted to `recipients`; run decrypts them with `identity`. */
async function decryptsSecrets(release: CheckedRelease, identities: readonly string[]) {
  const names = Object.keys(release.config.secrets);
  if (names.length === 0) return;
  if (identities.length === 0) {
    throw new ConfigurationError({
      input: 'identity',
      problem: `is required: the release will have secrets (${names.join(', ')})`,
      hint: 'pass the age identity (AGE-SECRET-KEY-1…) of one of recipients',
    });
  }
  const own = await recipientsOf(identities);
  if (!own.some((recipient) => release.recipients.includes(recipient))) {
    throw new ConfigurationError({
      input: 'identity',
      problem: 'is not the identity of any of recipients: run could not decrypt the secrets',
      got: own.join(', '),
      hint: 'give the identity whose recipient (age-keygen -y) is in recipients',
    });
  }
}
