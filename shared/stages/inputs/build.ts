import { z } from 'zod';
import { booleanInput, enumInput, integerInput, splitLines } from '../../inputs.js';
import { appName } from '../../names.js';

/** build-action's inputs, by their names in action.yml; parsed before the stage loads. */
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
