import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import type { GitHubEmulator } from './index.js';
import { useGitHub } from './vitest.js';

/** Clients for the emulator's own tests, and what an answer was when it was an error. */

/** The client our actions use: Octokit from @actions/github with plugin-retry, fast retries. */
export function retryingClient(github: GitHubEmulator, token = github.token) {
  return getOctokit(token, { baseUrl: github.apiUrl, retry: { retryAfterBaseValue: 5 } }, retry);
}

/** Octokit without retries: a refusal is seen as GitHub sends it. */
export function plainClient(github: GitHubEmulator, token = github.token) {
  return getOctokit(token, { baseUrl: github.apiUrl });
}

/** The status and body of a request: 200 and nothing when it succeeded. */
export async function outcome(
  promise: Promise<unknown>,
): Promise<{ status: number; data: unknown }> {
  try {
    await promise;
    return { status: 200, data: undefined };
  } catch (error) {
    const { status, response } = error as { status: number; response?: { data: unknown } };
    return { status, data: response?.data };
  }
}

/**
 * The emulator for a test file of its REST API, the client our actions use, and a repository
 * per test (`acme/<name>`) with its default branch's head.
 */
export function useRestApi() {
  const emulator = useGitHub();
  return {
    github: emulator,
    client: (token?: string) => retryingClient(emulator(), token),
    repository: (name: string, options?: Parameters<GitHubEmulator['createRepository']>[1]) => {
      const handle = emulator().createRepository(`acme/${name}`, options);
      return { owner: 'acme', repo: name, sha: handle.headSha };
    },
  };
}
