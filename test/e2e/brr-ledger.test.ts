import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useGitHub } from '../emulator/vitest.js';
import {
  brr,
  checkout,
  emptyGhConfig,
  emulatorEnv,
  SECRET_VALUES,
  SHA_A,
  SHA_B,
  standardLedger,
  type BrrRun,
  type StandardLedger,
} from '../helpers/brr.js';

/*
 * brr's read commands, run from cli/dist as an operator runs them, against a ledger of three
 * releases published into the emulator.
 */

const emulator = useGitHub();
let ledger: StandardLedger;

beforeAll(async () => {
  ledger = await standardLedger(emulator());
});

function run(args: string[], env: Record<string, string | undefined> = {}) {
  return brr([...args, '--repo', ledger.repository], {
    env: { ...emulatorEnv(emulator()), ...env },
  });
}

function json<T>(result: BrrRun): T {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as T;
}

function expectNoSecret(result: BrrRun): void {
  for (const value of SECRET_VALUES) {
    expect(result.stdout).not.toContain(value);
    expect(result.stderr).not.toContain(value);
  }
}

interface ReleasesJson {
  repository: string;
  app: string;
  environment: string;
  signaturesChecked: boolean;
  releases: Record<string, unknown>[];
}

// Alone, so that no other test's requests are counted.
describe('brr releases, in requests', () => {
  it('reads one tag list and each shown release by its tag, never the list of every release', async () => {
    const github = emulator();
    const before = github.requests().length;
    expect((await run(['releases', 'production', '--limit', '2'])).code).toBe(0);
    const paths = github
      .requests()
      .slice(before)
      .filter((request) => request.path.includes(ledger.repository))
      .map((request) => `${request.method} ${decodeURIComponent(request.path.split('?')[0]!)}`);
    expect(paths.filter((p) => p.includes('/git/matching-refs/'))).toEqual([
      `GET /repos/${ledger.repository}/git/matching-refs/tags/${ledger.app}/production/v`,
    ]);
    expect(paths.filter((p) => p.includes('/releases/tags/')).sort()).toEqual([
      `GET /repos/${ledger.repository}/releases/tags/${ledger.app}/production/v2`,
      `GET /repos/${ledger.repository}/releases/tags/${ledger.app}/production/v3`,
    ]);
    expect(paths.filter((p) => p.endsWith('/releases'))).toEqual([]);
  });
});

describe.concurrent('brr releases', () => {
  it('lists the ledger newest first with ID, change, build, who and when, from the tags', async () => {
    const listed = json<ReleasesJson>(await run(['releases', 'production', '--json']));
    expect(listed).toMatchObject({
      repository: ledger.repository,
      app: ledger.app,
      environment: 'production',
      signaturesChecked: false,
    });
    const [v1, v2, v3] = ledger.releases;
    expect(listed.releases).toEqual([
      expect.objectContaining({
        id: 'v3',
        tag: `${ledger.app}/production/v3`,
        published: true,
        change: 'Config change LOG_LEVEL',
        build: { sha: SHA_B, digest: v3!.bundle.digest, size: v3!.bundle.size },
        actor: 'octocat',
        created: v3!.manifest.created,
        previous: { id: 'v2', digest: expect.stringMatching(/^sha256:/) as string },
        signer: null,
      }),
      expect.objectContaining({ id: 'v2', change: v2!.manifest.changes }),
      expect.objectContaining({ id: 'v1', change: `Initial release of ${SHA_A.slice(0, 7)}` }),
    ]);
    expect(v2!.manifest.changes).toBe(
      `Deploy ${SHA_B.slice(0, 7)}, config add API_KEY, FEATURE, change DB_PASSWORD, PORT`,
    );
    expect(v1!.manifest.previous).toBeNull();
  });

  it('--limit shows the newest N; --allowed-signers names who signed each', async () => {
    const listed = json<ReleasesJson>(
      await run([
        'releases',
        'production',
        '--limit',
        '2',
        '--allowed-signers',
        ledger.allowedSigners,
        '--json',
      ]),
    );
    expect(listed.signaturesChecked).toBe(true);
    expect(listed.releases.map((release) => [release.id, release.signer])).toEqual([
      ['v3', 'ci@example.com'],
      ['v2', 'ci@example.com'],
    ]);
  });

  it('prints tab-separated rows without a header or colour into a pipe', async () => {
    const result = await run(['releases', 'production']);
    expect(result.code).toBe(0);
    const rows = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => line.split('\t'));
    expect(rows.map((row) => row[0])).toEqual(['v3', 'v2', 'v1']);
    expect(rows[0]).toEqual([
      'v3',
      'Config change LOG_LEVEL',
      SHA_B.slice(0, 7),
      'octocat',
      ledger.releases[2]!.manifest.created,
    ]);
    expect(result.stdout).not.toContain('\u001b[');
  });

  it('prints an aligned table with colour on a terminal, and without colour under NO_COLOR', async () => {
    const coloured = await brr(['releases', 'production', '--repo', ledger.repository], {
      env: emulatorEnv(emulator()),
      tty: true,
    });
    expect(coloured.code).toBe(0);
    expect(coloured.stdout).toContain('\u001b[1m');
    const plain = await brr(['releases', 'production', '--repo', ledger.repository], {
      env: { ...emulatorEnv(emulator()), NO_COLOR: '1' },
      tty: true,
    });
    expect(plain.code).toBe(0);
    expect(plain.stdout).not.toContain('\u001b[');
    const lines = plain.stdout.split(/\r?\n/);
    expect(lines[0]).toMatch(/^ID +CHANGE +BUILD +WHO +WHEN$/);
    expect(lines[1]).toMatch(/^v3 +Config change LOG_LEVEL +bbbbbbb +octocat +\d{4}-/);
    expect(plain.stdout).toContain('Signatures not checked: pass --allowed-signers');
  });
});

interface ShowJson {
  id: string;
  vars: Record<string, string>;
  secrets: string[];
  [key: string]: unknown;
}

describe.concurrent('brr show', () => {
  it('shows a release: build, run, chain link, vars with values, secrets by name only', async () => {
    const result = await run(['show', 'production', 'v2', '--json']);
    expectNoSecret(result);
    const shown = json<ShowJson>(result);
    const v2 = ledger.releases[1]!;
    expect(shown).toEqual({
      repository: ledger.repository,
      app: ledger.app,
      environment: 'production',
      id: 'v2',
      tag: `${ledger.app}/production/v2`,
      url: expect.stringContaining(`/releases/tag/`) as string,
      created: v2.manifest.created,
      actor: 'octocat',
      run: v2.manifest.run,
      change: v2.manifest.changes,
      build: v2.manifest.build,
      previous: v2.manifest.previous,
      manifest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) as string,
      signer: null,
      vars: { PORT: '9090', LOG_LEVEL: 'info', FEATURE: 'on' },
      secrets: ['API_KEY', 'DB_PASSWORD'],
    });
    expect(JSON.stringify(shown)).not.toContain('AGE ENCRYPTED');
  });

  it('takes latest, checks the signature with --allowed-signers, and never prints a secret', async () => {
    const result = await run([
      'show',
      'production',
      'latest',
      '--allowed-signers',
      ledger.allowedSigners,
    ]);
    expect(result.code).toBe(0);
    expectNoSecret(result);
    const facts = Object.fromEntries(
      result.stdout
        .trimEnd()
        .split('\n')
        .map((line) => line.split('\t') as [string, string]),
    );
    expect(facts).toMatchObject({
      Release: `${ledger.app}/production/v3`,
      Secrets: 'API_KEY, DB_PASSWORD',
      'Signed by': 'ci@example.com (checked against --allowed-signers)',
      'var.LOG_LEVEL': 'debug',
      'var.PORT': '9090',
    });
  });
});

describe('brr show, of text a terminal must not run', () => {
  it('escapes control characters in what a release says', async () => {
    const hostile = await standardLedger(emulator(), {
      vars: { BANNER: '\u001b]0;owned\u0007\nrm -rf /' },
    });
    const args = ['show', 'production', 'v3', '--repo', hostile.repository];
    for (const tty of [false, true]) {
      const result = await brr(args, { env: { ...emulatorEnv(emulator()), NO_COLOR: '1' }, tty });
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('\\x1b]0;owned\\x07\\x0arm -rf /');
      expect(result.stdout).not.toContain('\u001b');
      expect(result.stdout).not.toContain('\u0007');
    }
    const json = await brr([...args, '--json'], { env: emulatorEnv(emulator()) });
    expect((JSON.parse(json.stdout) as ShowJson).vars.BANNER).toBe(
      '\u001b]0;owned\u0007\nrm -rf /',
    );
  });
});

describe.concurrent('brr diff', () => {
  it('compares build and config; secrets by name only', async () => {
    const result = await run(['diff', 'production', 'v1', 'v2', '--json']);
    expectNoSecret(result);
    expect(json(result)).toEqual({
      repository: ledger.repository,
      app: ledger.app,
      environment: 'production',
      from: 'v1',
      to: 'v2',
      build: {
        changed: ['sha', 'digest', 'size'],
        from: ledger.releases[0]!.manifest.build,
        to: ledger.releases[1]!.manifest.build,
      },
      config: {
        added: [
          { name: 'API_KEY', before: null, after: { kind: 'secret' } },
          { name: 'FEATURE', before: null, after: { kind: 'var', value: 'on' } },
        ],
        changed: [
          { name: 'DB_PASSWORD', before: { kind: 'secret' }, after: { kind: 'secret' } },
          {
            name: 'PORT',
            before: { kind: 'var', value: '8080' },
            after: { kind: 'var', value: '9090' },
          },
        ],
        removed: [],
      },
      signaturesChecked: false,
    });
  });

  it('prints one row per difference, and nothing for two releases alike but their IDs', async () => {
    const result = await run(['diff', 'production', 'v2', 'latest']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('var\tLOG_LEVEL\tchanged\tinfo\tdebug\n');
    const same = await run(['diff', 'production', 'v3', 'v3']);
    expect(same).toMatchObject({ code: 0, stdout: '', stderr: '' });
  });
});

describe.concurrent('brr finds the repository, the app and the token', () => {
  it('takes --repo from the git remote origin (ssh and https forms) and --app from its name', async () => {
    for (const url of [
      `git@github.com:${ledger.repository}.git`,
      `https://github.com/${ledger.repository}`,
    ]) {
      const cwd = await checkout(url);
      const result = await brr(['releases', 'production', '--limit', '1', '--json'], {
        cwd,
        env: emulatorEnv(emulator()),
      });
      expect(json<ReleasesJson>(result)).toMatchObject({
        repository: ledger.repository,
        app: ledger.app,
        releases: [{ id: 'v3' }],
      });
    }
  });

  it('takes the token from `gh auth token` when neither --token nor GITHUB_TOKEN is given', async () => {
    const github = emulator();
    const config = await emptyGhConfig();
    const host = new URL(github.apiUrl).hostname;
    await writeFile(
      path.join(config, 'hosts.yml'),
      `${host}:\n    oauth_token: ${github.token}\n    user: operator\n`,
    );
    const result = await run(['releases', 'production', '--limit', '1', '--json'], {
      GITHUB_TOKEN: undefined,
      GH_CONFIG_DIR: config,
    });
    expect(json<ReleasesJson>(result).releases).toHaveLength(1);
  });
});
