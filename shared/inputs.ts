import { z } from 'zod';
import { ConfigurationError, quoted, type Problem } from './errors.js';

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

/** What a custom issue carries besides its message: the parts of a {@link Problem}. */
type IssueParams = Pick<Problem, 'subject' | 'problem' | 'expected' | 'got' | 'hint'>;

/** Adds an issue that says what was expected and what was got, kept apart from our words. */
export function addInputIssue(ctx: z.RefinementCtx, params: IssueParams): void {
  ctx.addIssue({ code: 'custom', message: new ConfigurationError(params).message, params });
}

function describeIssue(issue: z.core.$ZodIssue | undefined): Problem {
  if (!issue) return { problem: 'the inputs are invalid' };
  const [name, ...rest] = issue.path;
  if (name === undefined) return { problem: issue.message };
  const input = String(name);
  const subject = rest.length > 0 ? rest.join('.') : undefined;
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return { input, subject, problem: 'is required' };
  }
  if (issue.code === 'custom' && issue.params !== undefined) {
    return { input, subject, ...(issue.params as IssueParams) };
  }
  return { input, subject, problem: issue.message };
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
      addInputIssue(ctx, { expected: 'true or false', got: quoted(value) });
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
        addInputIssue(ctx, {
          expected: `a whole number from ${min} to ${max}`,
          got: quoted(value),
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
      addInputIssue(ctx, { expected: `one of ${values.join('|')}`, got: quoted(value) });
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
        addInputIssue(ctx, { expected: `at least one line: ${describe}` });
        return z.NEVER;
      }
      const parsed: T[] = [];
      for (const [index, line] of lines.entries()) {
        const item = parseLine(line);
        if (item === undefined) {
          addInputIssue(ctx, {
            subject: `line ${index + 1}`,
            expected: describe,
            got: quoted(line),
          });
          return z.NEVER;
        }
        parsed.push(item);
      }
      return parsed;
    });
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 1024,
  MIB: 1024 ** 2,
  GIB: 1024 ** 3,
  TIB: 1024 ** 4,
};

/**
 * A size in bytes, written as a whole number of bytes or with a unit (`500MB`, `4GiB`: KB, MB,
 * GB and TB are powers of 1000, KiB, MiB, GiB and TiB powers of 1024). Optional: undefined when
 * unset, so the caller's default applies.
 */
export function sizeInput(min: number) {
  return z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return undefined;
      const match = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(value.trim());
      const unit = SIZE_UNITS[(match?.[2] ?? '?').toUpperCase()];
      const bytes = match && unit !== undefined ? Math.floor(Number(match[1]) * unit) : NaN;
      if (!Number.isSafeInteger(bytes) || bytes < min) {
        addInputIssue(ctx, {
          expected: `a size of at least ${min} bytes, in bytes or with a unit (like 4GiB or 500MB)`,
          got: quoted(value),
        });
        return z.NEVER;
      }
      return bytes;
    });
}
