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

/** The options that say which app: every command takes them. */
export interface ScopeFlags {
  repo?: string;
  app?: string;
  json?: boolean;
}

/** The options of the commands that read GitHub, as commander hands them over. */
export interface CommonFlags extends ScopeFlags {
  token?: string;
  apiUrl?: string;
  allowedSigners?: string;
}

/** Which app, checked: what a command that reads only the hosts needs. */
export interface Scope {
  /** Undefined when `--app` is given and `--repo` is not: nothing needs it then. */
  repository: Repository | undefined;
  app: string;
  json: boolean;
}

/** What every command that reads GitHub works with, checked: any problem here is a usage error. */
export interface Settings extends Scope {
  repository: Repository;
  apiUrl: string;
  token: Token;
  /** Undefined when `--allowed-signers` is not given: manifests are then shown unverified. */
  allowedSigners: AllowedSigner[] | undefined;
}

export const DEFAULT_API_URL = 'https://api.github.com';

/** `--repo`, `--app` and `--json`: what every command takes. */
export function scopeOptions(command: Command): Command {
  return command
    .option('--repo <owner/name>', 'the repository (default: the GitHub remote origin of .)')
    .option('--app <name>', "the app (default: the repository's name)")
    .option('--json', 'print JSON instead of a table');
}

/**
 * Adds the options of a command that reads GitHub; `verify` and `rollback` need
 * `--allowed-signers`.
 */
export function commonOptions(command: Command, signers: 'optional' | 'required'): Command {
  const allowed = new Option(
    '--allowed-signers <file>',
    signers === 'required'
      ? 'allowed_signers file: the keys that may sign releases (required)'
      : 'allowed_signers file: check each release.json signature before showing it',
  );
  if (signers === 'required') allowed.makeOptionMandatory();
  return scopeOptions(command)
    .option('--token <token>', 'GitHub token (default: GITHUB_TOKEN, then `gh auth token`)')
    .option(
      '--api-url <url>',
      `GitHub's REST API (default: GITHUB_API_URL, then ${DEFAULT_API_URL})`,
    )
    .addOption(allowed);
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

async function repositoryOf(flags: ScopeFlags, io: Io): Promise<Repository> {
  if (flags.repo === undefined) return originRepository(io.cwd);
  const parsed = parseRepository(flags.repo);
  if (!parsed) {
    throw new ConfigurationError({ input: '--repo', expected: 'owner/name', got: flags.repo });
  }
  return parsed;
}

function appOf(flags: ScopeFlags, repository: Repository | undefined): string {
  return parseWith(appName, flags.app ?? repository?.repo, flags.app ? '--app' : 'app');
}

/** Which app: `--app`, else the repository's name (`--repo`, else the remote origin). */
export async function resolveScope(flags: ScopeFlags, io: Io): Promise<Scope> {
  const repository =
    flags.app !== undefined && flags.repo === undefined ? undefined : await repositoryOf(flags, io);
  return { repository, app: appOf(flags, repository), json: flags.json === true };
}

export async function resolveSettings(flags: CommonFlags, io: Io): Promise<Settings> {
  const repository = await repositoryOf(flags, io);
  const app = appOf(flags, repository);
  const apiUrl = apiUrlOf(flags.apiUrl, io.env);
  const allowedSigners =
    flags.allowedSigners !== undefined
      ? await allowedSignersOf(flags.allowedSigners, io.cwd)
      : undefined;
  const token = await resolveToken(flags.token, apiUrl, io.env);
  return { repository, app, apiUrl, token, allowedSigners, json: flags.json === true };
}
