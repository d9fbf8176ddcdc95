import { z } from 'zod';
import type { ActionContext } from '../context.js';
import { booleanInput, enumInput, integerInput, splitLines } from '../inputs.js';
import { appName } from '../names.js';
import type { StageResult } from '../stage.js';

export const buildInputs = z.object({
  path: z
    .string({ error: 'expected files, directories or globs, one per line' })
    .transform((value) => splitLines(value))
    .refine((lines) => lines.length > 0, 'expected files, directories or globs, one per line'),
  app: appName.optional(),
  command: z.string().optional(),
  'working-directory': z.string().optional(),
  cache: booleanInput(true),
  'retention-days': integerInput(0, 0, 400),
  compression: enumInput(['zstd', 'gzip'] as const, 'zstd'),
});

export type BuildInputs = z.output<typeof buildInputs>;

export interface BuildOutputs extends Record<string, string> {
  'build-id': string;
  sha: string;
  'artifact-id': string;
  'artifact-name': string;
  digest: string;
  size: string;
  files: string;
  'cache-hit': string;
}

export function build(
  _inputs: BuildInputs,
  _context: ActionContext,
): Promise<StageResult<BuildOutputs>> {
  return Promise.reject(new Error('build-action is not implemented yet'));
}
