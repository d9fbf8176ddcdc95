import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConfigurationError } from './core.js';

const run = promisify(execFile);

export interface Token {
  value: string;
  /** Where it came from, to say which one GitHub refused. */
  source: '--token' | 'GITHUB_TOKEN' | 'gh auth token';
}

/** The host `gh` keeps a token for: github.com for api.github.com, else the API's own host. */
export function ghHostname(apiUrl: string): string {
  const host = new URL(apiUrl).hostname;
  if (host === 'api.github.com') return 'github.com';
  return host.startsWith('api.') ? host.slice('api.'.length) : host;
}

async function ghToken(
  apiUrl: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | undefined> {
  try {
    const { stdout } = await run('gh', ['auth', 'token', '--hostname', ghHostname(apiUrl)], {
      env,
      timeout: 10_000,
    });
    const token = stdout.trim();
    return token === '' ? undefined : token;
  } catch {
    // No gh, or not logged in to that host: the error below says what to do.
    return undefined;
  }
}

/** The GitHub token: `--token`, else `GITHUB_TOKEN`, else what `gh auth token` prints. */
export async function resolveToken(
  option: string | undefined,
  apiUrl: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Token> {
  if (option !== undefined && option !== '') return { value: option, source: '--token' };
  const fromEnv = env.GITHUB_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: 'GITHUB_TOKEN' };
  const fromGh = await ghToken(apiUrl, env);
  if (fromGh !== undefined) return { value: fromGh, source: 'gh auth token' };
  throw new ConfigurationError({
    input: '--token',
    problem: `no GitHub token: not given, GITHUB_TOKEN is not set, and gh has none for ${ghHostname(apiUrl)}`,
    hint: 'set GITHUB_TOKEN, or log in with gh auth login',
  });
}
