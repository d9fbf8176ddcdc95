import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { ConfigurationError } from './errors.js';
import type { Log } from './log.js';

export type GitHub = ReturnType<typeof getOctokit>;

export interface Repository {
  owner: string;
  repo: string;
}

export interface GitHubOptions {
  token: string | undefined;
  apiUrl: string;
  log: Log;
  /** Rate-limit waits longer than this fail instead of stalling the job. */
  maxRateLimitWaitSeconds?: number;
}

/** What the last answer said of the token's request budget. */
export interface RateLimit {
  remaining: number;
  /** When the budget is whole again, in ms since the epoch. */
  resetAt: number;
}

const budgets = new WeakMap<GitHub, RateLimit>();

/** The token's budget as GitHub last reported it, for waits that should slow down before it runs out. */
export function rateLimitOf(github: GitHub): RateLimit | undefined {
  return budgets.get(github);
}

function headerNumber(headers: Record<string, unknown> | undefined, name: string) {
  const value = headers?.[name];
  return typeof value === 'string' || typeof value === 'number' ? Number(value) : undefined;
}

function noteBudget(github: GitHub, headers: Record<string, unknown> | undefined): void {
  const remaining = headerNumber(headers, 'x-ratelimit-remaining');
  const reset = headerNumber(headers, 'x-ratelimit-reset');
  if (remaining === undefined || reset === undefined) return;
  budgets.set(github, { remaining, resetAt: reset * 1000 });
}

/**
 * An Octokit that retries server errors (plugin-retry) and waits out rate limits
 * (plugin-throttling) a bounded number of times, saying so in the log.
 */
export function gitHubClient(options: GitHubOptions): GitHub {
  if (!options.token) {
    throw new ConfigurationError({
      input: 'token',
      problem: 'is empty',
      expected: 'a GitHub token (the default is ${{ github.token }})',
    });
  }
  const maxWait = options.maxRateLimitWaitSeconds ?? 120;
  const onLimit =
    (kind: string) =>
    (
      retryAfter: number,
      request: { method: string; url: string },
      _octokit: unknown,
      retryCount: number,
    ) => {
      if (retryCount < 3 && retryAfter <= maxWait) {
        options.log.warning(
          `GitHub ${kind} rate limit on ${request.method} ${request.url}: retrying in ${retryAfter}s`,
        );
        return true;
      }
      options.log.warning(
        `GitHub ${kind} rate limit on ${request.method} ${request.url}: giving up`,
      );
      return false;
    };
  const github = getOctokit(
    options.token,
    {
      baseUrl: options.apiUrl,
      throttle: { onRateLimit: onLimit('primary'), onSecondaryRateLimit: onLimit('secondary') },
      retry: { retries: 3 },
    },
    retry,
    throttling,
  );
  github.hook.after('request', (response) => noteBudget(github, response.headers));
  github.hook.error('request', (error) => {
    noteBudget(github, responseOf(error)?.headers);
    throw error;
  });
  return github;
}

function responseOf(
  error: unknown,
): { headers?: Record<string, unknown>; data?: unknown } | undefined {
  if (typeof error !== 'object' || error === null || !('response' in error)) return undefined;
  const response = error.response;
  return typeof response === 'object' && response !== null ? response : undefined;
}

/** The HTTP status of an Octokit error, if it is one. */
export function statusOf(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'status' in error) {
    const status = error.status;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

/** The `message` GitHub answered with: untrusted text, for `got`. */
export function gitHubMessage(error: unknown): string | undefined {
  const data = responseOf(error)?.data;
  if (typeof data !== 'object' || data === null || !('message' in data)) return undefined;
  return typeof data.message === 'string' ? data.message : undefined;
}

/** The `code` of each entry of a 422's `errors`, such as `already_exists`. */
export function validationCodes(error: unknown): string[] {
  const data = responseOf(error)?.data;
  if (typeof data !== 'object' || data === null || !('errors' in data)) return [];
  const errors = data.errors;
  if (!Array.isArray(errors)) return [];
  return errors.flatMap((entry: unknown) =>
    typeof entry === 'object' && entry !== null && 'code' in entry && typeof entry.code === 'string'
      ? [entry.code]
      : [],
  );
}

function rateLimited(error: unknown): boolean {
  const headers = responseOf(error)?.headers;
  return (
    headerNumber(headers, 'x-ratelimit-remaining') === 0 || headers?.['retry-after'] !== undefined
  );
}

/**
 * The token's own fault, said as one: GitHub did not accept it (401), or refused it what the
 * step needed (403, not a rate limit). Undefined for any other failure.
 */
export function tokenProblem(error: unknown, doing: string): ConfigurationError | undefined {
  const status = statusOf(error);
  const got = gitHubMessage(error);
  if (status === 401) {
    return new ConfigurationError({
      input: 'token',
      problem: `GitHub did not accept it while ${doing} (401)`,
      expected: 'a valid GitHub token, such as the default ${{ github.token }}',
      ...(got !== undefined ? { got } : {}),
    });
  }
  if (status === 403 && !rateLimited(error)) {
    return new ConfigurationError({
      input: 'token',
      problem: `GitHub refused it while ${doing} (403)`,
      ...(got !== undefined ? { got } : {}),
      hint: 'give the job the permissions the action needs (contents: write, actions: read)',
    });
  }
  return undefined;
}

/**
 * The token checked with one request, for the repository it works on: refused (401, 403) or
 * unable to see the repository (404), it is named as the input to fix.
 */
export async function checkToken(github: GitHub, repository: Repository): Promise<void> {
  try {
    await github.rest.repos.get({ ...repository });
  } catch (error) {
    if (statusOf(error) === 404) {
      throw new ConfigurationError({
        input: 'token',
        problem: `cannot see ${repository.owner}/${repository.repo} (404)`,
        hint: 'give a token of this repository, such as the default ${{ github.token }}',
      });
    }
    throw tokenProblem(error, 'checking it') ?? error;
  }
}
