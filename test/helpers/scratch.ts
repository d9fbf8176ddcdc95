import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const made: string[] = [];
process.once('exit', () => {
  for (const directory of made) rmSync(directory, { recursive: true, force: true });
});

/**
 * A fresh directory under the temporary directory, removed when the process exits: for what a
 * test or a bench run keeps until its end (bundles of a GiB among them).
 */
export async function scratchDir(prefix: string): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), prefix));
  made.push(directory);
  return directory;
}
