import { Ajv } from 'ajv';
import type { ErrorObject } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { envValueProblem } from './dotenv.js';
import { ConfigurationError, quoted } from './errors.js';
import { ENV_NAME } from './names.js';

/** Never carried into a release: the workflow's own token, whatever include says. */
export const ALWAYS_EXCLUDED = ['github_token'] as const;

const PATTERN = /^[A-Za-z0-9_*]+$/;

export interface MergeConfigOptions {
  /** The `vars` input: a JSON object, as `${{ toJSON(vars) }}` gives it. */
  vars?: string;
  /** The `secrets` input: a JSON object, as `${{ toJSON(secrets) }}` gives it. */
  secrets?: string;
  /** The `config` input: plain `KEY=value` lines. */
  config?: string;
  /** Patterns (`*` wildcard, case-insensitive) of vars and secrets to keep; empty keeps all. */
  include: readonly string[];
  /** Patterns of vars and secrets to drop. */
  exclude: readonly string[];
  /** Names or patterns never carried, from any source; `github_token` is always among them. */
  alwaysExcluded: readonly string[];
  /**
   * Values never carried, whatever their secret's name: the signing key and the age identity,
   * which a workflow passes from secrets that `${{ toJSON(secrets) }}` also holds.
   */
  withheldValues?: readonly (string | undefined)[];
}

export interface MergedConfig {
  vars: Record<string, string>;
  secrets: Record<string, string>;
  /** Names dropped by exclude, include, the always-excluded names or a withheld value. */
  excluded: string[];
  /** Plain names dropped because a secret of the same name wins. */
  shadowed: string[];
}

/**
 * Merges a release's config from its three sources. Precedence: `vars` < `config` lines <
 * `secrets`. A name that is a secret stays a secret: a plain value of the same name is dropped
 * (and reported in `shadowed`) rather than letting a var downgrade a secret to plain text in the
 * manifest. `include`/`exclude` filter the bulk `vars` and `secrets` objects only; `config`
 * lines are written one by one, so they are always kept (except always-excluded names).
 * Errors name the input and the key, never a secret's value.
 */
export function mergeConfig(options: MergeConfigOptions): MergedConfig {
  const include = parsePatterns('include', options.include);
  const exclude = parsePatterns('exclude', options.exclude);
  const always = parsePatterns('alwaysExcluded', [...ALWAYS_EXCLUDED, ...options.alwaysExcluded]);
  const withheld = new Set(
    (options.withheldValues ?? [])
      .filter((value): value is string => value !== undefined && value.trim() !== '')
      .map(normalise),
  );
  const excluded = new Set<string>();

  const pick = (input: string, source: Record<string, string>, bulk: boolean, secret: boolean) => {
    const picked: Record<string, string> = {};
    for (const [name, value] of Object.entries(source)) {
      const dropped =
        matchesAny(name, always) ||
        (bulk && include.length > 0 && !matchesAny(name, include)) ||
        (bulk && matchesAny(name, exclude)) ||
        (secret && withheld.has(normalise(value)));
      if (dropped) {
        excluded.add(name);
        continue;
      }
      if (!ENV_NAME.test(name)) {
        throw new ConfigurationError({
          input,
          subject: 'key',
          expected:
            'an environment variable name (letters, digits and _, not starting with a digit)',
          got: quoted(name),
        });
      }
      const problem = envValueProblem(value);
      if (problem !== undefined) {
        throw new ConfigurationError({
          input,
          subject: `config key ${name}`,
          problem: `the value ${problem}`,
        });
      }
      picked[name] = value;
    }
    return picked;
  };

  const vars = pick('vars', parseObjectInput('vars', options.vars, false), true, false);
  const lines = pick('config', parseConfigLines(options.config), false, false);
  const secrets = pick('secrets', parseObjectInput('secrets', options.secrets, true), true, true);

  const plain: Record<string, string> = { ...vars, ...lines };
  const shadowed = Object.keys(plain).filter((name) => Object.hasOwn(secrets, name));
  for (const name of shadowed) delete plain[name];

  return {
    vars: sortedRecord(plain),
    secrets: sortedRecord(secrets),
    excluded: [...excluded].sort(),
    shadowed: shadowed.sort(),
  };
}

function normalise(value: string): string {
  return value.replace(/\r\n/g, '\n').trim();
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function parsePatterns(input: string, lines: readonly string[]): RegExp[] {
  return lines.map((line, index) => {
    const pattern = line.trim();
    if (!PATTERN.test(pattern)) {
      throw new ConfigurationError({
        input,
        subject: `line ${index + 1}`,
        expected: 'a key name or a pattern with * (like APP_*)',
        got: quoted(line),
      });
    }
    return new RegExp(`^${pattern.replace(/\*/g, '.*')}$`, 'i');
  });
}

function matchesAny(name: string, patterns: readonly RegExp[]): boolean {
  return patterns.some((pattern) => pattern.test(name));
}

/**
 * Reads `vars` or `secrets` JSON. JSON.parse's own message quotes the text around the error,
 * so it is never passed on: for `secrets` that text is a secret.
 */
function parseObjectInput(
  input: 'vars' | 'secrets',
  text: string | undefined,
  secret: boolean,
): Record<string, string> {
  if (text === undefined || text.trim() === '') return {};
  const example = `\${{ toJSON(${input}) }}`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigurationError({ input, expected: `a JSON object like ${example}` });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigurationError({
      input,
      expected: `a JSON object like ${example}`,
      got: Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`,
    });
  }
  const record: Record<string, string> = {};
  for (const [name, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') {
      throw new ConfigurationError({
        input,
        subject: `the value of ${quoted(name)}`,
        expected: 'a string',
        got: secret ? `a ${typeof entry}` : JSON.stringify(entry),
      });
    }
    record[name] = entry;
  }
  return record;
}

/** `KEY=value` lines: the value is everything after the first `=`, taken literally. */
function parseConfigLines(text: string | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  const seen = new Map<string, number>();
  for (const [index, raw] of (text ?? '').split('\n').entries()) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const equals = line.indexOf('=');
    const number = index + 1;
    if (equals === -1) {
      throw new ConfigurationError({
        input: 'config',
        subject: `line ${number}`,
        expected: 'KEY=value',
      });
    }
    const name = line.slice(0, equals).trim();
    const first = seen.get(name);
    if (first !== undefined) {
      throw new ConfigurationError({
        input: 'config',
        subject: quoted(name),
        problem: `is set twice (lines ${first} and ${number})`,
      });
    }
    seen.set(name, number);
    record[name] = line.slice(equals + 1);
  }
  return record;
}

/**
 * Checks merged config against the `schema` input: JSON Schema draft-07, or 2019-09 and 2020-12
 * when its `$schema` says so. Every value is a string, so types are coerced for the check only
 * ("8080" passes `"type": "integer"`); the config itself is never changed. Errors name the key
 * and the rule, never the value.
 */
export function validateConfig(values: Record<string, string>, schemaText: string): void {
  let schema: unknown;
  try {
    schema = JSON.parse(schemaText);
  } catch (error) {
    throw new ConfigurationError({
      input: 'schema',
      problem: 'is not valid JSON',
      got: (error as Error).message,
    });
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new ConfigurationError({ input: 'schema', expected: 'a JSON Schema object' });
  }
  const declared = (schema as { $schema?: unknown }).$schema;
  const dialect = typeof declared === 'string' ? declared : '';
  const Dialect = dialect.includes('2020-12')
    ? Ajv2020
    : dialect.includes('2019-09')
      ? Ajv2019
      : Ajv;
  // Unknown keywords are refused (a typo would silently check nothing); schemas that leave out
  // `"type": "object"` and the like, which are valid JSON Schema, are not.
  const ajv = new Dialect({
    coerceTypes: true,
    allErrors: true,
    strictSchema: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    logger: false,
  });
  addFormats.default(ajv);
  let validate;
  try {
    validate = ajv.compile(schema);
  } catch (error) {
    throw new ConfigurationError({
      input: 'schema',
      problem: 'is not a usable JSON Schema',
      got: (error as Error).message,
    });
  }
  if (validate({ ...values })) return;
  const [first, ...rest] = (validate.errors ?? []).map(describeSchemaError);
  const more = rest.length > 0 ? ` (and ${rest.length} more)` : '';
  const problem = first ?? { subject: 'config', problem: 'does not match the schema' };
  // The schema is the rule the config broke: the input to read (and to fix, or the vars).
  throw new ConfigurationError({
    ...problem,
    input: 'schema',
    problem: `${problem.problem}${more}`,
  });
}

/** The first key a schema error concerns, and the rule: never the value. */
function describeSchemaError(error: ErrorObject): { subject: string; problem: string } {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') {
    return {
      subject: `config key ${String(params.missingProperty)}`,
      problem: 'is required by the schema',
    };
  }
  if (error.keyword === 'additionalProperties') {
    return {
      subject: `config key ${String(params.additionalProperty)}`,
      problem: 'is not allowed by the schema',
    };
  }
  const key = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
  return { subject: key ? `config key ${key}` : 'config', problem: error.message ?? 'is invalid' };
}
