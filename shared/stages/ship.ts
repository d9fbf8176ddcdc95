import type { ActionContext } from '../context.js';
import { build, type BuildOutputs } from './build.js';
import type { ShipInputs } from './inputs/ship.js';
import { release, type ReleaseOutputs } from './release.js';
import type { StageResult } from './result.js';
import { run, type RunOutputs } from './run.js';

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
