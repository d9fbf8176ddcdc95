import { beforeAll, describe, expect, it } from 'vitest';
import { useGitHub } from '../emulator/vitest.js';
import {
  brr,
  checkout,
  emulatorEnv,
  standardLedger,
  tempFile,
  type BrrRun,
  type StandardLedger,
} from '../helpers/brr.js';

/*
 * How brr fails: exit 2 for a usage error, 1 for anything else, and always one line on stderr
 * and nothing on stdout.
 */

const emulator = useGitHub();
let ledger: StandardLedger;

beforeAll(async () => {
  ledger = await standardLedger(emulator());
});

function run(args: string[], env: Record<string, string | undefined> = {}) {
  return brr(args, { env: { ...emulatorEnv(emulator()), ...env } });
}

function expectFailure(result: BrrRun, code: 1 | 2, line: string | RegExp): void {
  expect(result.stdout).toBe('');
  expect(result.stderr.endsWith('\n')).toBe(true);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  if (typeof line === 'string') expect(result.stderr.trimEnd()).toBe(line);
  else expect(result.stderr.trimEnd()).toMatch(line);
  expect(result.code).toBe(code);
}

describe.concurrent('help', () => {
  it('every command has help with its options and an example, on stdout, exit 0', async () => {
    for (const command of ['releases', 'show', 'diff', 'verify', 'status', 'rollback', 'unlock']) {
      const help = await brr([command, '--help']);
      expect(help).toMatchObject({ code: 0, stderr: '' });
      expect(help.stdout).toMatch(new RegExp(`^Usage: brr ${command} \\[options\\] <environment>`));
      expect(help.stdout).toContain('--json');
      expect(help.stdout).toMatch(new RegExp(`Examples:\\n  brr ${command} production`));
    }
    const top = await brr(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(
      /releases .*\n.*show .*\n.*diff .*\n.*verify .*\n.*status .*\n.*rollback .*\n.*unlock /,
    );
  });
});

describe.concurrent('usage errors exit 2 with one line', () => {
  it('no command, an unknown one, a missing or malformed argument, an unknown option', async () => {
    expectFailure(
      await run([]),
      2,
      'error: expected a command: releases, show, diff, verify, status, rollback or unlock (brr --help)',
    );
    expectFailure(
      await run(['relases', 'production']),
      2,
      "error: unknown command 'relases' (Did you mean releases?)",
    );
    expectFailure(await run(['show', 'production']), 2, "error: missing required argument 'id'");
    expectFailure(
      await run(['releases', '../etc']),
      2,
      /^error: command-argument value '\.\.\/etc' is invalid for argument 'environment'\. expected an environment name/,
    );
    expectFailure(
      await run(['show', 'production', 'v1;rm']),
      2,
      /argument 'id'\. expected a release ID/,
    );
    expectFailure(
      await run(['releases', 'production', '--jsn']),
      2,
      "error: unknown option '--jsn' (Did you mean --json?)",
    );
    expectFailure(
      await run(['releases', 'production', '--limit', 'ten', '--repo', ledger.repository]),
      2,
      "error: option '--limit <n>' argument 'ten' is invalid. expected a whole number from 1 to 1000",
    );
  });

  it('verify without --allowed-signers, or with both an ID and --all', async () => {
    expectFailure(
      await run(['verify', 'production', '--repo', ledger.repository]),
      2,
      "error: required option '--allowed-signers <file>' not specified",
    );
    expectFailure(
      await run([
        'verify',
        'production',
        'v1',
        '--all',
        '--allowed-signers',
        ledger.allowedSigners,
      ]),
      2,
      'give a release ID (v1) or --all, not both',
    );
  });

  it('a malformed --repo, --app, --api-url, or an unreadable or empty --allowed-signers', async () => {
    expectFailure(
      await run(['releases', 'production', '--repo', 'acme']),
      2,
      `Input '--repo': expected owner/name, got acme`,
    );
    expectFailure(
      await run(['releases', 'production', '--repo', ledger.repository, '--app', '-rf']),
      2,
      /^Input '--app': expected an app name/,
    );
    expectFailure(
      await run(['releases', 'production', '--repo', ledger.repository, '--api-url', 'ftp://x']),
      2,
      "Input '--api-url': expected an http(s) URL such as https://api.github.com, got ftp://x",
    );
    const missing = '/nonexistent/allowed_signers';
    expectFailure(
      await run([
        'show',
        'production',
        'v1',
        '--repo',
        ledger.repository,
        '--allowed-signers',
        missing,
      ]),
      2,
      `Input '--allowed-signers': cannot read ${missing} (ENOENT); expected a readable file`,
    );
    const empty = await tempFile('allowed_signers', '# nobody yet\n');
    expectFailure(
      await run([
        'show',
        'production',
        'v1',
        '--repo',
        ledger.repository,
        '--allowed-signers',
        empty,
      ]),
      2,
      `Input '--allowed-signers': ${empty} lists no key; expected at least one line like \`ci@example.com ssh-ed25519 AAAA…\``,
    );
  });

  it('no --repo outside a git checkout, or with an origin that is not a GitHub repository', async () => {
    const outside = await run(['releases', 'production']);
    expectFailure(
      outside,
      2,
      /^Input '--repo': not given, and the current directory has no git remote origin/,
    );
    const cwd = await checkout('https://x-access-token:ghs_secret@example.com/just-one-part');
    const result = await brr(['releases', 'production'], { cwd, env: emulatorEnv(emulator()) });
    expectFailure(
      result,
      2,
      "Input '--repo': not given, and the git remote origin does not name a GitHub repository's owner/name; pass --repo owner/name",
    );
    expect(result.stderr).not.toContain('ghs_secret');
  });

  it('no token anywhere', async () => {
    const host = new URL(emulator().apiUrl).hostname;
    expectFailure(
      await run(['releases', 'production', '--repo', ledger.repository], {
        GITHUB_TOKEN: undefined,
      }),
      2,
      `Input '--token': no GitHub token: not given, GITHUB_TOKEN is not set, and gh has none for ${host}; set GITHUB_TOKEN, or log in with gh auth login`,
    );
  });
});

describe.concurrent('failures exit 1 with one line', () => {
  it('a token GitHub refuses, naming where it came from', async () => {
    const api = emulator().apiUrl;
    const refused = (source: string) =>
      `Input '${source}': GitHub (${api}) refused this token: 401 Bad credentials; give a valid token: --token, GITHUB_TOKEN, or gh auth login`;
    expectFailure(
      await run(['releases', 'production', '--repo', ledger.repository], {
        GITHUB_TOKEN: 'ghp_not_a_token',
      }),
      1,
      refused('GITHUB_TOKEN'),
    );
    const args = ['show', 'production', 'v1', '--repo', ledger.repository, '--token', 'nope'];
    expectFailure(await run(args), 1, refused('--token'));
    emulator().clearViolations();
  });

  it('an unknown repository, environment, app or release', async () => {
    expectFailure(
      await run(['releases', 'production', '--repo', 'acme/nothing-here']),
      1,
      'repository acme/nothing-here: not found on GitHub, or the token cannot read it; check --repo (default: the remote origin) and the token',
    );
    const app = ledger.app;
    expectFailure(
      await run(['releases', 'staging', '--repo', ledger.repository]),
      1,
      `ledger ${app}/staging of ${ledger.repository}: has no releases (no tag ${app}/staging/v*); check the environment's name, and --app (default: the repository's name)`,
    );
    expectFailure(
      await run(['show', 'production', 'latest', '--repo', ledger.repository, '--app', 'web']),
      1,
      /^ledger web\/production of .*: has no releases/,
    );
    expectFailure(
      await run(['diff', 'production', 'v1', 'v7', '--repo', ledger.repository]),
      1,
      `release ${app}/production/v7: is not published; the ledger runs from v1 to v3 (brr releases production)`,
    );
  });

  it('a release that an allowed signer did not sign, in show', async () => {
    const other = await tempFile(
      'allowed_signers',
      'someone@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMJfwXSfTMvTxdq7y1zYsBnJT2VrGmDBOb8cZLHU4pPW\n',
    );
    const result = await run([
      'show',
      'production',
      'v1',
      '--repo',
      ledger.repository,
      '--allowed-signers',
      other,
    ]);
    expectFailure(
      result,
      1,
      new RegExp(`^release ${ledger.app}/production/v1 is not trusted: release\\.json\\.sig`),
    );
  });
});
