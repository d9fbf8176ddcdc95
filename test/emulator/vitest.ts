import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { startGitHub, type EmulatorOptions, type GitHubEmulator } from './index.js';

/**
 * One emulator for the test file: started before its tests, stopped after them. After each test
 * the contract violations it caused fail it (a test that provokes one on purpose clears them),
 * and injected faults are removed.
 */
export function useGitHub(options?: EmulatorOptions): () => GitHubEmulator {
  let github: GitHubEmulator | undefined;
  beforeAll(async () => {
    github = await startGitHub(options);
  });
  afterAll(async () => {
    await github?.stop();
  });
  afterEach(() => {
    if (!github) return;
    const violations = github.violations();
    github.clearViolations();
    github.faults.clear();
    expect(violations, 'requests or answers that break GitHub’s contract').toEqual([]);
  });
  return () => {
    if (!github) throw new Error('useGitHub: the emulator starts in beforeAll');
    return github;
  };
}
