import { z } from 'zod';
import { booleanInput, splitLines } from '../../inputs.js';
import { appName, COMMIT_SHA, environmentName, releaseId } from '../../names.js';

/** release-action's inputs, by their names in action.yml; parsed before the stage loads. */
export const releaseInputs = z.object({
  environment: environmentName,
  app: appName.optional(),
  sha: z
    .string()
    .regex(COMMIT_SHA, 'expected a full commit SHA: 40 lower-case hex digits')
    .optional(),
  vars: z.string().optional(),
  secrets: z.string().optional(),
  config: z.string().optional(),
  include: z
    .string()
    .optional()
    .transform((value) => splitLines(value)),
  exclude: z
    .string()
    .optional()
    .transform((value) => splitLines(value)),
  schema: z.string().optional(),
  'signing-key': z.string({ error: 'an OpenSSH Ed25519 private key is required' }),
  'allowed-signers': z.string().optional(),
  recipients: z
    .string()
    .optional()
    .transform((value) => splitLines(value)),
  'release-id': releaseId.optional(),
  prerelease: booleanInput(false),
  'make-latest': booleanInput(false),
  token: z.string().optional(),
});

export type ReleaseInputs = z.output<typeof releaseInputs>;
