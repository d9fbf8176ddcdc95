import { describe, expect, it } from 'vitest';
import { type MergeConfigOptions, mergeConfig, validateConfig } from '../../../shared/config.js';
import { ConfigurationError } from '../../../shared/errors.js';

const SIGNING_KEY =
  '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----';

function merge(options: Partial<MergeConfigOptions>) {
  return mergeConfig({ include: [], exclude: [], alwaysExcluded: [], ...options });
}

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('it did not fail');
}

// What the runner gives for `${{ toJSON(vars) }}` and `${{ toJSON(secrets) }}`.
const VARS = JSON.stringify({ PORT: '8080', LOG_LEVEL: 'info', APP_NAME: 'shop' }, null, 2);
const SECRETS = JSON.stringify(
  {
    github_token: 'ghs_runner_token',
    DB_URL: 'postgres://u:hunter2@db/app',
    APP_API_KEY: 'sk_live_123',
    RELEASE_SIGNING_KEY: `${SIGNING_KEY}\n`,
  },
  null,
  2,
);

describe('mergeConfig', () => {
  it('merges vars, config lines and secrets, dropping the runner token and withheld keys', () => {
    const merged = merge({
      vars: VARS,
      secrets: SECRETS,
      config: 'FEATURE_X=on\n# a comment\n\nGREETING= hello = world \r\n',
      withheldValues: [SIGNING_KEY, undefined],
    });
    expect(merged).toEqual({
      vars: {
        APP_NAME: 'shop',
        FEATURE_X: 'on',
        GREETING: ' hello = world ',
        LOG_LEVEL: 'info',
        PORT: '8080',
      },
      secrets: { APP_API_KEY: 'sk_live_123', DB_URL: 'postgres://u:hunter2@db/app' },
      excluded: ['RELEASE_SIGNING_KEY', 'github_token'],
      shadowed: [],
    });
    expect(Object.keys(merged.vars)).toEqual(Object.keys(merged.vars).sort());
  });

  it('always excludes github_token in any case, and the names it is given', () => {
    const merged = merge({
      vars: JSON.stringify({ GITHUB_TOKEN: 'x', DEPLOY_KEY: 'k', PORT: '1' }),
      config: 'github_token=y',
      alwaysExcluded: ['DEPLOY_*'],
    });
    expect(merged.vars).toEqual({ PORT: '1' });
    expect(merged.excluded).toEqual(['DEPLOY_KEY', 'GITHUB_TOKEN', 'github_token']);
  });

  it('filters vars and secrets by include and exclude patterns, case-insensitively', () => {
    const merged = merge({
      vars: VARS,
      secrets: SECRETS,
      config: 'EXTRA=1',
      include: ['app_*', 'port', 'db_url'],
      exclude: ['*_API_*'],
    });
    expect(merged.vars).toEqual({ APP_NAME: 'shop', EXTRA: '1', PORT: '8080' });
    expect(merged.secrets).toEqual({ DB_URL: 'postgres://u:hunter2@db/app' });
    expect(merged.excluded).toEqual([
      'APP_API_KEY',
      'LOG_LEVEL',
      'RELEASE_SIGNING_KEY',
      'github_token',
    ]);
  });

  it('lets a secret win over a var or config line of the same name, and says so', () => {
    const merged = merge({
      vars: JSON.stringify({ DB_URL: 'sqlite://dev.db', PORT: '80' }),
      config: 'PORT=8080\nDB_URL=postgres://localhost',
      secrets: JSON.stringify({ DB_URL: 'postgres://prod' }),
    });
    expect(merged.vars).toEqual({ PORT: '8080' });
    expect(merged.secrets).toEqual({ DB_URL: 'postgres://prod' });
    expect(merged.shadowed).toEqual(['DB_URL']);
  });

  it('accepts empty or missing inputs', () => {
    expect(merge({ vars: '', secrets: '{}' })).toEqual({
      vars: {},
      secrets: {},
      excluded: [],
      shadowed: [],
    });
  });

  it('refuses input that is not a JSON object, naming the input and never echoing it', () => {
    const secret = '{"DB_URL": "postgres://u:hunter2@db"';
    const message = errorOf(() => merge({ secrets: secret }));
    expect(message).toBe("Input 'secrets': expected a JSON object like ${{ toJSON(secrets) }}");
    expect(errorOf(() => merge({ vars: '["PORT"]' }))).toBe(
      "Input 'vars': expected a JSON object like ${{ toJSON(vars) }}, got an array",
    );
    expect(errorOf(() => merge({ vars: '"x"' }))).toMatch(/got a string/);
    expect(errorOf(() => merge({ secrets: '{"PIN": 1234}' }))).toBe(
      'Input \'secrets\': the value of "PIN": expected a string, got a number',
    );
    expect(errorOf(() => merge({ vars: '{"PORT": 8080}' }))).toBe(
      'Input \'vars\': the value of "PORT": expected a string, got 8080',
    );
  });

  it('refuses keys that are not environment variable names, naming the key and the input', () => {
    expect(errorOf(() => merge({ vars: '{"1PORT": "1"}' }))).toMatch(
      /^Input 'vars': key: expected an environment variable name .*, got "1PORT"$/,
    );
    expect(errorOf(() => merge({ secrets: '{"DB-URL": "x"}' }))).toMatch(
      /^Input 'secrets': key: expected an environment variable name .*, got "DB-URL"$/,
    );
    expect(errorOf(() => merge({ config: 'MY VAR=1' }))).toMatch(
      /^Input 'config': key: expected an environment variable name .*, got "MY VAR"$/,
    );
    expect(merge({ vars: '{"BAD-BUT-EXCLUDED": "1"}', exclude: ['BAD*'] }).vars).toEqual({});
  });

  it('refuses malformed or repeated config lines', () => {
    expect(errorOf(() => merge({ config: 'A=1\nsecret-looking-line' }))).toBe(
      "Input 'config': line 2: expected KEY=value",
    );
    expect(errorOf(() => merge({ config: 'A=1\nB=2\nA=3' }))).toBe(
      'Input \'config\': "A": is set twice (lines 1 and 3)',
    );
  });

  it('refuses a value no .env file can carry when the release is made, not at deploy', () => {
    const message = errorOf(() => merge({ secrets: JSON.stringify({ TOKEN: "it's\r\n" }) }));
    expect(message).toMatch(
      /^Input 'secrets': config key TOKEN: the value contains the control character U\+000D/,
    );
    expect(message).not.toContain("it's");
  });

  it('refuses bad patterns, naming the input and line', () => {
    expect(errorOf(() => merge({ include: ['APP_*', 'db url'] }))).toMatch(
      /^Input 'include': line 2: expected a key name or a pattern with \* \(like APP_\*\), got "db url"$/,
    );
    expect(errorOf(() => merge({ exclude: ['(.*)'] }))).toMatch(/^Input 'exclude': line 1: /);
  });
});

describe('validateConfig', () => {
  const schema = JSON.stringify({
    type: 'object',
    required: ['PORT', 'DB_URL'],
    properties: {
      PORT: { type: 'integer', minimum: 1, maximum: 65535 },
      DEBUG: { type: 'boolean' },
      DB_URL: { type: 'string', format: 'uri' },
      LOG_LEVEL: { enum: ['debug', 'info', 'warn'] },
    },
  });
  const good = { PORT: '8080', DEBUG: 'false', DB_URL: 'postgres://db/app', LOG_LEVEL: 'info' };

  it('accepts config whose string values fit the schema once coerced, without changing it', () => {
    const values = { ...good };
    expect(() => validateConfig(values, schema)).not.toThrow();
    expect(values).toEqual(good);
  });

  it('names the key and the rule it breaks, never the value', () => {
    expect(errorOf(() => validateConfig({ ...good, PORT: 'eighty' }, schema))).toBe(
      "Input 'schema': config key PORT: must be integer",
    );
    expect(errorOf(() => validateConfig({ ...good, PORT: '70000' }, schema))).toBe(
      "Input 'schema': config key PORT: must be <= 65535",
    );
    expect(errorOf(() => validateConfig({ ...good, DB_URL: 'hunter2 not a url' }, schema))).toBe(
      'Input \'schema\': config key DB_URL: must match format "uri"',
    );
    expect(errorOf(() => validateConfig({ PORT: '1' }, schema))).toBe(
      "Input 'schema': config key DB_URL: is required by the schema",
    );
    expect(errorOf(() => validateConfig({ ...good, PORT: 'x', LOG_LEVEL: 'loud' }, schema))).toBe(
      "Input 'schema': config key PORT: must be integer (and 1 more)",
    );
    const closed = JSON.stringify({ type: 'object', additionalProperties: false, properties: {} });
    expect(errorOf(() => validateConfig({ EXTRA: '1' }, closed))).toBe(
      "Input 'schema': config key EXTRA: is not allowed by the schema",
    );
  });

  it('reads schemas that leave out "type": "object"', () => {
    const loose = JSON.stringify({ properties: { PORT: { type: 'integer' } }, required: ['PORT'] });
    expect(() => validateConfig({ PORT: '80' }, loose)).not.toThrow();
    expect(errorOf(() => validateConfig({ PORT: 'x' }, loose))).toBe(
      "Input 'schema': config key PORT: must be integer",
    );
  });

  it('reads 2020-12 schemas when they say so', () => {
    const modern = JSON.stringify({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: { PORT: { type: 'integer' } },
      dependentRequired: { TLS_CERT: ['TLS_KEY'] },
    });
    expect(() => validateConfig({ PORT: '1' }, modern)).not.toThrow();
    expect(errorOf(() => validateConfig({ PORT: '1', TLS_CERT: 'c' }, modern))).toBe(
      "Input 'schema': config: must have property TLS_KEY when property TLS_CERT is present",
    );
  });

  it('refuses a schema that is not JSON or not a valid schema, naming the input', () => {
    expect(errorOf(() => validateConfig({}, '{type: object}'))).toMatch(
      /^Input 'schema': is not valid JSON; got /,
    );
    expect(errorOf(() => validateConfig({}, '[]'))).toBe(
      "Input 'schema': expected a JSON Schema object",
    );
    expect(errorOf(() => validateConfig({}, '{"type": "objekt"}'))).toMatch(/^Input 'schema': /);
    expect(errorOf(() => validateConfig({}, '{"typo": 1}'))).toMatch(
      /^Input 'schema': is not a usable JSON Schema; got strict mode: unknown keyword: "typo"/,
    );
  });
});
