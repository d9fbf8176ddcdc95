import type { Dirent, Stats } from 'node:fs';
import { glob, lstat, readdir, readlink, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigurationError } from '../errors.js';
import { BundleRules, compareUtf8, pathComponents, refuseEmpty, type EntryKind } from './rules.js';

/** One entry of a bundle, as found on disk under the root. */
export interface BundleEntry {
  /** Relative to the root, components joined by `/`, no trailing slash. */
  path: string;
  kind: EntryKind;
  /** Bytes of a file; 0 for the other kinds. */
  size: number;
  /** Any execute bit set on a file: packed as 0755, else 0644. */
  executable: boolean;
  /** The target of a symlink, as stored in the link. */
  linkTarget?: string;
}

const GLOB_MAGIC = /[*?[\]{}]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Expands the build's `path` lines (files, directories or globs, relative to `root`) into the
 * bundle's entries: directories recursively, each entry's parent directories included, symlinks
 * kept as symlinks, sorted by path in byte order. Refuses anything a reproducible, safe bundle
 * cannot hold, naming the path and the rule.
 */
export async function resolveEntries(
  root: string,
  patterns: readonly string[],
): Promise<BundleEntry[]> {
  const base = resolve(root);
  // The root itself may be reached through a symlink (a working directory often is).
  const rootStats = await stat(base).catch(() => undefined);
  if (!rootStats?.isDirectory()) {
    throw new ConfigurationError(`bundle root '${root}' is not a directory`);
  }
  const found = new Map<string, BundleEntry>();
  const checkedParents = new Set<string>();

  const add = async (path: string, stats: Stats): Promise<void> => {
    if (found.has(path)) return;
    const entry = await describe(base, path, stats);
    found.set(path, entry);
    if (entry.kind === 'directory') await walk(path);
  };

  const walk = async (directory: string): Promise<void> => {
    const children = await readdir(join(base, directory), {
      withFileTypes: true,
      encoding: 'buffer',
    });
    const paths = children.map((child) => childPath(directory, child));
    const stats = await Promise.all(paths.map((path) => lstat(join(base, path))));
    for (const [index, path] of paths.entries()) await add(path, stats[index] as Stats);
  };

  const addParents = async (path: string, pattern: string): Promise<void> => {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (checkedParents.has(parent)) continue;
      const stats = await lstat(join(base, parent));
      if (!stats.isDirectory()) {
        throw new ConfigurationError(
          `path '${pattern}' reaches '${path}' through the symlink '${parent}'; name the link itself or its target`,
        );
      }
      checkedParents.add(parent);
      if (!found.has(parent)) found.set(parent, directoryEntry(parent));
    }
  };

  for (const pattern of patterns) {
    const matches = await expand(base, pattern);
    if (matches.length === 0) {
      throw new ConfigurationError(`path '${pattern}' matches nothing under '${root}'`);
    }
    for (const match of matches) {
      if (match === '') {
        await walk('');
        continue;
      }
      await addParents(match, pattern);
      await add(match, await lstat(join(base, match)));
    }
  }

  const entries = [...found.values()].sort((a, b) => compareUtf8(a.path, b.path));
  found.clear();
  // Paths read from disk are unique and reached through directories only: what is left to
  // check is where the symlinks lead, and that there is something to run.
  const rules = new BundleRules();
  let contents = 0;
  for (const entry of entries) {
    if (entry.kind === 'symlink') rules.admit(entry.path, entry.kind, entry.linkTarget);
    if (entry.kind !== 'directory') contents++;
  }
  rules.finish();
  refuseEmpty(contents);
  return entries;
}

/** The paths one pattern names, relative to the root; `''` stands for the root itself. */
async function expand(base: string, pattern: string): Promise<string[]> {
  const literal = pathComponents(pattern, `path '${pattern}'`).join('/');
  if (literal === '') return [''];
  if (await lstatOrUndefined(join(base, literal))) return [literal];
  if (!GLOB_MAGIC.test(pattern)) return [];
  const matches: string[] = [];
  for await (const match of glob(pattern, { cwd: base })) {
    matches.push(pathComponents(match, `path '${pattern}'`).join('/'));
  }
  return matches;
}

async function describe(base: string, path: string, stats: Stats): Promise<BundleEntry> {
  if (stats.isDirectory()) return directoryEntry(path);
  if (stats.isFile()) {
    return { path, kind: 'file', size: stats.size, executable: (stats.mode & 0o111) !== 0 };
  }
  if (stats.isSymbolicLink()) {
    const linkTarget = await readlink(join(base, path));
    return { path, kind: 'symlink', size: 0, executable: false, linkTarget };
  }
  const what = stats.isFIFO()
    ? 'a fifo'
    : stats.isSocket()
      ? 'a socket'
      : stats.isCharacterDevice() || stats.isBlockDevice()
        ? 'a device'
        : 'not a file';
  throw new ConfigurationError(
    `'${path}' is ${what}; a bundle holds only files, directories and symlinks`,
  );
}

function directoryEntry(path: string): BundleEntry {
  return { path, kind: 'directory', size: 0, executable: true };
}

function childPath(directory: string, child: Dirent<Buffer>): string {
  let name: string;
  try {
    name = utf8.decode(child.name);
  } catch {
    const shown = child.name.toString('utf-8');
    throw new ConfigurationError(
      `'${directory ? `${directory}/` : ''}${shown}' has a name that is not valid UTF-8`,
    );
  }
  return directory ? `${directory}/${name}` : name;
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
