import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, rm, symlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  checkedEntries,
  type BundleSource,
  type CheckedEntry,
  type CheckOptions,
} from '../../../shared/bundle.js';
import { entryMode } from '../../../shared/bundle/tar.js';
import { ConfigurationError } from '../../../shared/errors.js';

/*
 * A bundle unpacked with Node alone, entry by entry as checkedEntries yields them: what the
 * tests compare with GNU tar, to show that the checked entries are the archive's whole truth.
 */

export interface UnpackOptions extends Omit<CheckOptions, 'onDigest'> {
  /** `sha256:<hex>` the bundle must have; checked over the same bytes that were unpacked. */
  expectedDigest?: string;
}

export interface UnpackResult {
  digest: string;
  files: number;
  directories: number;
  symlinks: number;
}

/**
 * Unpacks a bundle into `destination`, which must not exist yet or be an empty directory.
 * Every entry is checked before it is written; on any refusal, or a digest that does not match,
 * everything written is removed and the error is thrown.
 */
export async function unpackBundle(
  source: BundleSource,
  destination: string,
  options: UnpackOptions = {},
): Promise<UnpackResult> {
  const created = await prepareDestination(destination);
  let digest = '';
  const counts = { files: 0, directories: 0, symlinks: 0 };
  const directories: { path: string; mtime: number }[] = [];
  try {
    const entries = checkedEntries(source, {
      compression: options.compression,
      onDigest: (value) => (digest = value),
    });
    for await (const entry of entries) {
      const target = join(destination, entry.path);
      if (entry.kind === 'directory') {
        await mkdir(target, { recursive: true, mode: 0o755 });
        directories.push({ path: target, mtime: entry.mtime });
        counts.directories++;
        continue;
      }
      await mkdir(dirname(target), { recursive: true, mode: 0o755 });
      if (entry.kind === 'symlink') {
        await symlink(entry.linkTarget ?? '', target);
        counts.symlinks++;
      } else {
        await writeFile(target, entry);
        counts.files++;
      }
    }
    if (options.expectedDigest !== undefined && digest !== options.expectedDigest) {
      throw new ConfigurationError({
        subject: 'the bundle',
        expected: `the digest ${options.expectedDigest}`,
        got: digest,
      });
    }
    // Deepest first, so setting a child's times never touches a parent set before it.
    for (const directory of directories.reverse()) {
      await chmod(directory.path, 0o755);
      await utimes(directory.path, directory.mtime, directory.mtime);
    }
  } catch (error) {
    await clear(destination, created);
    throw error;
  }
  return { digest, ...counts };
}

async function writeFile(target: string, entry: CheckedEntry): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const mode = entryMode(entry.kind, entry.executable);
  const handle = await open(target, flags, mode);
  try {
    for await (const chunk of entry.content) await handle.write(chunk);
    await handle.chmod(mode);
    await handle.utimes(entry.mtime, entry.mtime);
  } finally {
    await handle.close();
  }
}

/** Makes sure `destination` is an empty directory; true when this call created it. */
async function prepareDestination(destination: string): Promise<boolean> {
  const stats = await lstat(destination).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (stats === undefined) {
    await mkdir(destination, { mode: 0o755 });
    return true;
  }
  if (!stats.isDirectory() || (await readdir(destination)).length > 0) {
    throw new ConfigurationError({
      subject: `unpacking into ${destination}`,
      expected: 'a new or empty directory',
    });
  }
  return false;
}

async function clear(destination: string, created: boolean): Promise<void> {
  if (created) {
    await rm(destination, { recursive: true, force: true });
    return;
  }
  for (const name of await readdir(destination)) {
    await rm(join(destination, name), { recursive: true, force: true });
  }
}
