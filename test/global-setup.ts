import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Every test run gets a temporary directory of its own, removed when the run ends: the tests
 * make thousands of scratch directories (bundles, hosts, workspaces), and a test process that
 * vitest stops never gets to remove its own.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const directory = await mkdtemp(path.join(tmpdir(), 'brr-tests-'));
  // As /tmp is: tests run some commands as another user (a deploy user), which write here too.
  await chmod(directory, 0o1777);
  process.env.TMPDIR = directory;
  return async () => {
    await rm(directory, { recursive: true, force: true });
  };
}
