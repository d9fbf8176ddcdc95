import { z } from 'zod';
import type { ActionContext } from '../context.js';
import { booleanInput, splitLines } from '../inputs.js';
import { appName, environmentName, releaseId } from '../names.js';
import type { StageResult } from '../stage.js';

const SHA = /^[0-9a-f]{40}$/;

export const releaseInputs = z.object({
  environment: environmentName,
  app: appName.optional(),
  sha: z
    .string()
    .regex(SHA, 'expected a full 40-character commit SHA in lower-case hex')
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

export interface ReleaseOutputs extends Record<string, string> {
  'release-id': string;
  tag: string;
  'release-url': string;
  'manifest-digest': string;
  'previous-release-id': string;
  changes: string;
}

export function release(
  _inputs: ReleaseInputs,
  _context: ActionContext,
): Promise<StageResult<ReleaseOutputs>> {
  return Promise.reject(new Error('release-action is not implemented yet'));
}
