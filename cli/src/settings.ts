import { Option, type Command } from 'commander';
import {
  appName,
  ConfigurationError,
  parseAllowedSigners,
  type AllowedSigner,
  type Repository,
} from './core.js';
import { readOptionFile } from './files.js';
import { originRepository, parseRepository } from './git-remote.js';
import type { Io } from './io.js';
import { parseWith } from './parse.js';
import { resolveToken, type Token } from './token.js';

/** The options every command takes, as commander hands them over. */
export interface CommonFlags {
  repo?: string;
  app?: string;
  token?: string;
  apiUrl?: string;
  allowedSigners?: string;
  json?: boolean;
}

/** What every command works with, checked: any problem here is a usage error. */
export interface Settings {
  repository: Repository;
  app: string;
  apiUrl: string;
  token: Token;
  /** Undefined when `--allowed-signers` is not given: manifests are then shown unverified. */
  allowedSigners: AllowedSigner[] | undefined;
  json: boolean;
}

export const DEFAULT_API_URL = 'https://api.github.com';

/** Adds the options every command takes; `verify` needs `--allowed-signers`. */
export function commonOptions(command: Command, signers: 'optional' | 'required'): Command {
  const allowed = new Option(
    '--allowed-signers <file>',
    signers === 'required'
      ? 'allowed_signers file: the keys that may sign releases (required)'
      : 'allowed_signers file: check each release.json signature before showing it',
  );
  if (signers === 'required') allowed.makeOptionMandatory();
  return command
    .option('--repo <owner/name>', 'the repository (default: the GitHub remote origin of .)')
    .option('--app <name>', "the app (default: the repository's name)")
    .option('--token <token>', 'GitHub token (default: GITHUB_TOKEN, then `gh auth token`)')
    .option(
      '--api-url <url>',
      `GitHub's REST API (default: GITHUB_API_URL, then ${DEFAULT_API_URL})`,
    )
    .addOption(allowed)
    .option('--json', 'print JSON instead of a table');
}

function apiUrlOf(flag: string | undefined, env: Io['env']): string {
  const text = flag ?? env.GITHUB_API_URL ?? DEFAULT_API_URL;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    url = new URL('invalid:');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigurationError({
      input: flag !== undefined ? '--api-url' : 'GITHUB_API_URL',
      expected: `an http(s) URL such as ${DEFAULT_API_URL}`,
      got: text,
    });
  }
  return text.replace(/\/+$/, '');
}

async function allowedSignersOf(file: string, cwd: string): Promise<AllowedSigner[]> {
  const text = await readOptionFile('--allowed-signers', file, cwd);
  let signers: AllowedSigner[];
  try {
    signers = parseAllowedSigners(text);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    throw new ConfigurationError({ ...error.problem, input: '--allowed-signers' });
  }
  if (signers.length === 0) {
    throw new ConfigurationError({
      input: '--allowed-signers',
      problem: `${file} lists no key`,
      expected: 'at least one line like `ci@example.com ssh-ed25519 AAAA…`',
    });
  }
  return signers;
}

export async function resolveSettings(flags: CommonFlags, io: Io): Promise<Settings> {
  let repository: Repository;
  if (flags.repo !== undefined) {
    const parsed = parseRepository(flags.repo);
    if (!parsed) {
      throw new ConfigurationError({ input: '--repo', expected: 'owner/name', got: flags.repo });
    }
    repository = parsed;
  } else {
    repository = await originRepository(io.cwd);
  }
  const app = parseWith(appName, flags.app ?? repository.repo, flags.app ? '--app' : 'app');
  const apiUrl = apiUrlOf(flags.apiUrl, io.env);
  const allowedSigners =
    flags.allowedSigners !== undefined
      ? await allowedSignersOf(flags.allowedSigners, io.cwd)
      : undefined;
  const token = await resolveToken(flags.token, apiUrl, io.env);
  return { repository, app, apiUrl, token, allowedSigners, json: flags.json === true };
}
