import { z } from 'zod';
import type { ActionContext } from '../context.js';
import type { StageResult } from './result.js';
import { build, buildInputs, type BuildOutputs } from './build.js';
import { release, releaseInputs, type ReleaseOutputs } from './release.js';
import { run, runInputs, type RunOutputs } from './run.js';

/**
 * The one-step pipeline takes the three stages' inputs under their own names, except the deploy
 * root, which is `deploy-path` here because `path` already names what build packs. The release
 * is always the next ID of the environment, made from this build, and it is what run deploys.
 */
export const shipInputs = z.object({
  ...buildInputs.shape,
  ...releaseInputs.omit({ 'release-id': true, sha: true }).shape,
  ...runInputs.omit({
    'release-id': true,
    path: true,
    destroy: true,
    'stop-command': true,
    'delete-releases': true,
  }).shape,
  'deploy-path': runInputs.shape.path,
  // Optional in run-action for `destroy` only; shipping always verifies what it deploys.
  'allowed-signers': z.string({
    error: 'expected allowed_signers lines naming the release signing keys',
  }),
});

export type ShipInputs = z.output<typeof shipInputs>;

export type ShipOutputs = BuildOutputs & ReleaseOutputs & RunOutputs;

export async function ship(
  inputs: ShipInputs,
  context: ActionContext,
): Promise<StageResult<ShipOutputs>> {
  context.log.info('Build');
  const built = await build(inputs, context);
  context.log.info(`Release ${inputs.environment}`);
  const released = await release(
    { ...inputs, sha: built.outputs.sha, 'release-id': undefined },
    context,
  );
  context.log.info(`Run ${released.outputs['release-id']} on ${inputs.hosts.length} host(s)`);
  const ran = await run(
    {
      ...inputs,
      'release-id': released.outputs['release-id'],
      path: inputs['deploy-path'],
      destroy: false,
      'stop-command': undefined,
      'delete-releases': false,
    },
    context,
  );
  return {
    outputs: { ...built.outputs, ...released.outputs, ...ran.outputs },
    summary: [built.summary, released.summary, ran.summary].join('\n'),
    ...(ran.failure ? { failure: ran.failure } : {}),
  };
}
