import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import dotenv from 'dotenv';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envValueProblem, renderEnvFile } from '../../../shared/dotenv.js';
import { ConfigurationError } from '../../../shared/errors.js';

/*
 * The systemd reader is systemd's own code: load_env_file() and strv_env_clean_with_callback()
 * from libsystemd-shared, the two calls EnvironmentFile= makes (src/core/execute.c), called
 * through Python's ctypes since no systemd runs as PID 1 here.
 */
const SYSTEMD_READER = `
import ctypes, glob, json, sys
libs = sorted(glob.glob('/usr/lib/*/systemd/libsystemd-shared-*.so') + glob.glob('/lib/systemd/libsystemd-shared-*.so'))
if not libs:
    sys.exit('libsystemd-shared is missing: apt-get install systemd')
lib = ctypes.CDLL(libs[-1])
lib.strv_env_clean_with_callback.restype = ctypes.POINTER(ctypes.c_char_p)
results = []
for path in sys.argv[1:]:
    strv = ctypes.POINTER(ctypes.c_char_p)()
    r = lib.load_env_file(None, path.encode(), ctypes.byref(strv))
    if r < 0:
        sys.exit(f'load_env_file({path}) failed: {r}')
    strv = lib.strv_env_clean_with_callback(strv, None, None)
    values = {}
    i = 0
    while strv and strv[i] is not None:
        key, _, value = strv[i].decode('utf-8').partition('=')
        values[key] = value
        i += 1
    results.append(values)
print(json.dumps(results))
`;

let dir: string;
let readerPath: string;
let fileCount = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'brr-dotenv-'));
  readerPath = join(dir, 'systemd-reader.py');
  writeFileSync(readerPath, SYSTEMD_READER);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeEnvFile(text: string): string {
  const path = join(dir, `env-${fileCount++}`);
  writeFileSync(path, text);
  return path;
}

function readWithSystemd(paths: string[]): Record<string, string>[] {
  const output = execFileSync('python3', [readerPath, ...paths], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(output) as Record<string, string>[];
}

/** A real `node --env-file=F` child, printing the keys it was given. */
function readWithNodeEnvFile(path: string, keys: string[]): Record<string, string> {
  const script = `const keys = ${JSON.stringify(keys)}; console.log(JSON.stringify(Object.fromEntries(keys.filter((k) => k in process.env).map((k) => [k, process.env[k]]))))`;
  const output = execFileSync(process.execPath, [`--env-file=${path}`, '-e', script], {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin' },
  });
  return JSON.parse(output) as Record<string, string>;
}

function readers(text: string): Record<string, Record<string, string>> {
  return {
    dotenv: dotenv.parse(text),
    'dotenv (fast)': dotenv.parse(text, { fast: true }),
    'node parseEnv': parseEnv(text) as Record<string, string>,
  };
}

const TRICKY: Record<string, string> = {
  EMPTY: '',
  PLAIN: 'hello',
  SPACES: '  leading and trailing  ',
  TAB: '\tindented\t',
  DOLLAR: '$HOME ${PATH} $(id) `id`',
  HASH: 'a # not a comment #',
  BACKSLASH: 'C:\\path\\to\\n\\r\\t\\\\end\\',
  DOUBLE: 'say "hi" and "\\n"',
  SINGLE: "it's",
  SINGLE_AND_DOLLAR: "it's $5 and `cheap` = yes!",
  SINGLE_AND_BACKSLASH: "C:\\Users\\O'Brien\\x \\t\\ ",
  BOTH_QUOTES: `O'Brien said "hi"`,
  NEWLINES: 'line 1\nline 2\n\nline 4\n',
  SINGLE_NEWLINE: "don't\nstop",
  UNICODE: 'café € 😀 \u00a0nbsp\u2028ls \u200b',
  JSON: '{"a": [1, "two"], "b": null}',
  PEM: '-----BEGIN KEY-----\nMIIB+/==\n-----END KEY-----\n',
  EQUALS: '=a=b==',
  LOOKS_LIKE_A_LINE: "x'\nOTHER=injected",
  EXPORT: 'export FOO=bar',
  URL: 'postgres://u:p%40ss@db:5432/app?sslmode=require#frag',
};

describe('renderEnvFile', () => {
  it('writes a file that systemd, node --env-file and dotenv read back to the same tricky values', () => {
    const text = renderEnvFile(TRICKY);
    const path = writeEnvFile(text);
    const [systemd] = readWithSystemd([path]);
    expect(systemd).toEqual(TRICKY);
    expect(readWithNodeEnvFile(path, Object.keys(TRICKY))).toEqual(TRICKY);
    for (const [reader, values] of Object.entries(readers(text))) {
      expect(values, reader).toEqual(TRICKY);
    }
  });

  it('writes sorted keys, one assignment per key, in a form a person can read', () => {
    expect(renderEnvFile({ PORT: '8080', API: "it's", NAME: `O'Brien "Bob"` })).toBe(
      `API="it's"\nNAME=O'Brien "Bob"\nPORT='8080'\n`,
    );
    expect(renderEnvFile({})).toBe('');
  });

  it('refuses, naming the key and never the value, what no quoting carries the same everywhere', () => {
    const refused: [string, RegExp][] = [
      ["it's C:\\new", /holds ' and a backslash that systemd or dotenv reads as an escape/],
      ["it's \\$HOME", /holds ' and a backslash/],
      ["it's a\\", /holds ' and a backslash/],
      [`it's "C:\\x"`, /holds ', " and a backslash/],
      [`'quoted' "twice"`, /holds ', " and starts with a quote/],
      [`it's "x"\nnext`, /and a newline/],
      [`it's "x" #1`, /and a #/],
      [` it's "x"`, /leading or trailing white space/],
      ['carriage\r\nreturn', /control character U\+000D/],
      ['bell\x07', /control character U\+0007/],
      ['nul\0', /control character U\+0000/],
      ['\ud800lone', /not valid Unicode/],
    ];
    for (const [value, why] of refused) {
      let error: unknown;
      try {
        renderEnvFile({ OK: 'fine', SECRET_KEY: value });
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify(value)).toBeInstanceOf(ConfigurationError);
      const message = (error as Error).message;
      expect(message, JSON.stringify(value)).toMatch(/^config key SECRET_KEY: the value /);
      expect(message).toMatch(why);
      expect(message).not.toContain(value.trim().slice(0, 6));
      expect(envValueProblem(value)).toBeDefined();
    }
    expect(() => renderEnvFile({ 'BAD-KEY': 'x' })).toThrow(
      'config key "BAD-KEY": is not an environment variable name',
    );
  });

  it('refuses only values that each plain form would carry wrongly to some reader', () => {
    const forms = (value: string) => [`'${value}'`, `"${value}"`, value];
    const values = ["it's C:\\new", `it's "C:\\x"`, `it's "x"\nnext`, ` it's "x"`, `it's "x" #1`];
    const texts = values.flatMap((value) => forms(value).map((form) => `K=${form}\n`));
    const systemd = readWithSystemd(texts.map(writeEnvFile));
    texts.forEach((text, index) => {
      const value = values[Math.floor(index / 3)]!;
      const all = [systemd[index]!, ...Object.values(readers(text))];
      expect(
        all.some((read) => read.K !== value),
        `${JSON.stringify(text)} reads back the same everywhere`,
      ).toBe(true);
    });
  });

  it('round-trips arbitrary values through all readers, or refuses them', () => {
    const alphabet = fc.constantFrom(
      ...["'", '"', '`', '\\', '$', '#', ' ', '\t', '\n', '=', ';', '{', '}', 'a', 'n', 'r', 'Z'],
      ...[
        '0',
        'é',
        '€',
        '😀',
        '\u00a0',
        '\u2028',
        '\u0085',
        '\ufeff',
        'export ',
        'K=',
        '\r',
        '\x01',
      ],
    );
    const value = fc.array(alphabet, { maxLength: 12 }).map((parts) => parts.join(''));
    const samples = fc.sample(fc.array(value, { minLength: 1, maxLength: 5 }), {
      numRuns: 400,
      seed: 20250301,
    });
    const files: { path: string; text: string; values: Record<string, string> }[] = [];
    let refused = 0;
    for (const sample of samples) {
      const values = Object.fromEntries(sample.map((v, i) => [`K${i}`, v]));
      let text: string;
      try {
        text = renderEnvFile(values);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigurationError);
        refused++;
        continue;
      }
      files.push({ path: writeEnvFile(text), text, values });
    }
    const systemd = readWithSystemd(files.map((file) => file.path));
    files.forEach(({ text, values }, index) => {
      expect(systemd[index], `systemd reading ${JSON.stringify(text)}`).toEqual(values);
      for (const [reader, read] of Object.entries(readers(text))) {
        expect(read, `${reader} reading ${JSON.stringify(text)}`).toEqual(values);
      }
    });
    expect(files.length).toBeGreaterThan(samples.length / 4);
    expect(refused).toBeGreaterThan(0);
    expect(readdirSync(dir).length).toBeGreaterThan(files.length);
  });
});
