import { z } from 'zod';
import { buildInputs } from './build.js';
import { releaseInputs } from './release.js';
import { runInputs } from './run.js';

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
    'destroy-confirm': true,
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
