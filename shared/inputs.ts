import { z } from 'zod';
import { ConfigurationError } from './errors.js';

/** Reads one action input by name; `undefined` when it is unset or empty. */
export type InputReader = (name: string) => string | undefined;

/**
 * Parses the action's inputs once, at the edge. The schema's keys are the input names as
 * written in action.yml, so every error names the input the user has to fix.
 */
export function parseInputs<S extends z.ZodObject>(schema: S, read: InputReader): z.output<S> {
  const raw: Record<string, string | undefined> = {};
  for (const name of Object.keys(schema.shape)) raw[name] = read(name);
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigurationError(describeIssue(result.error.issues[0]));
}

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'Inputs are invalid';
  const [name, ...rest] = issue.path;
  const where = rest.length ? ` (${rest.join('.')})` : '';
  if (name === undefined) return issue.message;
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `Input '${String(name)}' is required${where}`;
  }
  return `Input '${String(name)}'${where}: ${issue.message}`;
}

/** A boolean input: the YAML 1.2 core schema's true/false spellings, as @actions/core accepts. */
export function booleanInput(defaultValue: boolean) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return defaultValue;
      if (/^(true|True|TRUE)$/.test(value)) return true;
      if (/^(false|False|FALSE)$/.test(value)) return false;
      ctx.addIssue({
        code: 'custom',
        message: `expected true or false, got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    });
}

/** A whole-number input within bounds. */
export function integerInput(defaultValue: number, min: number, max: number) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return defaultValue;
      if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      return Number(value);
    });
}

/** One of a fixed set of values. */
export function enumInput<const T extends readonly [string, ...string[]]>(
  values: T,
  defaultValue: T[number],
) {
  return z
    .string()
    .optional()
    .transform((value, ctx): T[number] => {
      if (value === undefined) return defaultValue;
      if ((values as readonly string[]).includes(value)) return value;
      ctx.addIssue({
        code: 'custom',
        message: `expected one of ${values.join('|')}, got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    });
}

/** Non-empty lines, trimmed; `#` starts a comment line. */
export function splitLines(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** A multi-line input whose every line must pass `check`; the error names the line. */
export function linesInput<T>(
  describe: string,
  parseLine: (line: string) => T | undefined,
  options: { required?: boolean } = {},
) {
  return z
    .string()
    .optional()
    .transform((value, ctx): T[] => {
      const lines = splitLines(value);
      if (options.required && lines.length === 0) {
        ctx.addIssue({ code: 'custom', message: `expected at least one line: ${describe}` });
        return z.NEVER;
      }
      const parsed: T[] = [];
      for (const [index, line] of lines.entries()) {
        const item = parseLine(line);
        if (item === undefined) {
          ctx.addIssue({
            code: 'custom',
            message: `line ${index + 1} ${JSON.stringify(line)} is not ${describe}`,
          });
          return z.NEVER;
        }
        parsed.push(item);
      }
      return parsed;
    });
}
