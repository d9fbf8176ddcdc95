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

/**
 * An Octokit that retries server errors (plugin-retry) and waits out rate limits
 * (plugin-throttling) a bounded number of times, saying so in the log.
 */
export function gitHubClient(options: GitHubOptions): GitHub {
  if (!options.token) {
    throw new ConfigurationError(
      "Input 'token' is empty: expected a GitHub token (the default is ${{ github.token }})",
    );
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
  return getOctokit(
    options.token,
    {
      baseUrl: options.apiUrl,
      throttle: { onRateLimit: onLimit('primary'), onSecondaryRateLimit: onLimit('secondary') },
      retry: { retries: 3 },
    },
    retry,
    throttling,
  );
}

/** The HTTP status of an Octokit error, if it is one. */
export function statusOf(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'status' in error) {
    const status = error.status;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}
