import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENV_NAME, parseEnvFile, renderEnvFile } from '../../../../shared/hosts/env-file.js';

/** What sh sees after `set -a; . ./.env`: the same sourcing the restart step does. */
async function sourced(text: string, names: string[]): Promise<Record<string, string>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'brr-env-'));
  try {
    await writeFile(path.join(dir, '.env'), text);
    const script = `set -a; . ./.env; set +a; for n in ${names.join(' ')}; do eval "printf '%s\\\\0' \\"\\$$n\\""; done`;
    const result = spawnSync('/bin/sh', ['-c', script], { cwd: dir });
    expect(result.stderr.toString()).toBe('');
    const values = result.stdout.toString().split('\0').slice(0, -1);
    return Object.fromEntries(names.map((n, i) => [n, values[i] ?? '']));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('.env', () => {
  it('quotes values so that sourcing it runs nothing and yields them exactly', async () => {
    const env = {
      PLAIN: 'hello',
      QUOTES: `it's "quoted"`,
      SUBST: '$(touch /tmp/brr-never) `id` ${HOME}',
      LINES: 'one\ntwo\n',
      SLASHES: 'a\\b\\',
      EMPTY: '',
    };
    const text = renderEnvFile(env);
    expect(text).toContain('SUBST="\\$(touch /tmp/brr-never) \\`id\\` \\${HOME}"');
    expect(await sourced(text, Object.keys(env))).toEqual(env);
    expect(parseEnvFile(text)).toEqual(env);
  });

  it('round-trips any value through sh', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/),
          fc.string({ unit: 'binary', maxLength: 30 }).filter((v) => !v.includes('\0')),
          { maxKeys: 4 },
        ),
        async (env) => {
          const text = renderEnvFile(env);
          expect(parseEnvFile(text)).toEqual(env);
          if (Object.keys(env).length > 0)
            expect(await sourced(text, Object.keys(env))).toEqual(env);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('refuses names a shell or systemd would not take', () => {
    for (const bad of ['1X', 'A-B', 'A B', '$(id)', '']) {
      expect(ENV_NAME.test(bad)).toBe(false);
      expect(() => renderEnvFile({ [bad]: 'x' })).toThrow(/^config: /);
    }
    expect(() => renderEnvFile({ A: 'a\0b' })).toThrow(/NUL/);
  });
});
