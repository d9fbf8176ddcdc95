import { z } from 'zod';
import type { ActionContext } from '../context.js';
import type { StageResult } from '../stage.js';
import { buildInputs, type BuildOutputs } from './build.js';
import { releaseInputs, type ReleaseOutputs } from './release.js';
import { runInputs, type RunOutputs } from './run.js';

/**
 * The one-step pipeline takes the three stages' inputs under their own names, except the deploy
 * root, which is `deploy-path` here because `path` already names what build packs.
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
});

export type ShipInputs = z.output<typeof shipInputs>;

export type ShipOutputs = BuildOutputs & ReleaseOutputs & RunOutputs;

export function ship(
  _inputs: ShipInputs,
  _context: ActionContext,
): Promise<StageResult<ShipOutputs>> {
  return Promise.reject(new Error('the one-step ship action is not implemented yet'));
}
