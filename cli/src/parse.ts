import type { z } from 'zod';
import { ConfigurationError } from './core.js';

/** Parses one value with a schema of shared/names.ts; the error names the option or argument. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, input: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ConfigurationError({
    input,
    problem: result.error.issues[0]?.message ?? 'is not valid',
  });
}
