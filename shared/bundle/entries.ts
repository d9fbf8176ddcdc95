import type { Dirent, Stats } from 'node:fs';
import { glob, lstat, readdir, readlink, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigurationError, quoted } from '../errors.js';
import {
  BundleRules,
  compareUtf8,
  entrySubject,
  normalisePath,
  quotedBytes,
  refuseEmpty,
  type EntryKind,
} from './rules.js';

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
const ONLY_THREE_KINDS = 'a bundle holds only files, directories and symlinks';

/**
 * Expands the build's `path` lines (files, directories or globs, relative to `root`) into the
 * bundle's entries: directories recursively, each entry's parent directories included, symlinks
 * kept as symlinks, sorted by path in byte order. Refuses anything a reproducible, safe bundle
 * cannot hold, naming the path and the rule, by the same rules a bundle is checked by before it
 * reaches a host. Errors concern the `path` lines; the caller names the input.
 */
export async function resolveEntries(
  root: string,
  patterns: readonly string[],
): Promise<BundleEntry[]> {
  const base = resolve(root);
  // The root itself may be reached through a symlink (a working directory often is).
  const rootStats = await stat(base).catch(() => undefined);
  if (!rootStats?.isDirectory()) {
    throw new ConfigurationError({
      subject: `bundle root ${quoted(root)}`,
      problem: 'is not a directory',
    });
  }
  const tree = new Tree(base);
  for (const pattern of patterns) {
    const matches = await expand(base, pattern);
    if (matches.length === 0) {
      throw new ConfigurationError({ subject: quoted(pattern), problem: 'matches nothing' });
    }
    for (const match of matches) await tree.addMatch(match);
  }
  const entries = tree.sorted();
  const rules = new BundleRules();
  let contents = 0;
  for (const entry of entries) {
    rules.admit(entry.path, entry.kind, entry.linkTarget);
    if (entry.kind !== 'directory') contents++;
  }
  rules.finish();
  refuseEmpty(contents);
  return entries;
}

/** The entries found so far, each path once. */
class Tree {
  readonly #found = new Map<string, BundleEntry>();

  constructor(private readonly base: string) {}

  /** A path a pattern matched (`''`: the root), with its parents and, for a directory, all below. */
  async addMatch(match: string): Promise<void> {
    if (match === '') {
      await this.#walk('');
      return;
    }
    await this.#addParents(match);
    await this.#add(match, await lstat(join(this.base, match)));
  }

  sorted(): BundleEntry[] {
    return [...this.#found.values()].sort((a, b) => compareUtf8(a.path, b.path));
  }

  async #add(path: string, stats: Stats): Promise<void> {
    if (this.#found.has(path)) return;
    const entry = await describe(this.base, path, stats);
    this.#found.set(path, entry);
    if (entry.kind === 'directory') await this.#walk(path);
  }

  async #walk(directory: string): Promise<void> {
    const children = await readdir(join(this.base, directory), {
      withFileTypes: true,
      encoding: 'buffer',
    });
    const paths = children.map((child) => childPath(directory, child));
    const stats = await Promise.all(paths.map((path) => lstat(join(this.base, path))));
    for (const [index, path] of paths.entries()) await this.#add(path, stats[index] as Stats);
  }

  /** Adds the directories above a match, nearest first, stopping at one already found. */
  async #addParents(path: string): Promise<void> {
    for (let cut = path.lastIndexOf('/'); cut !== -1; cut = path.lastIndexOf('/', cut - 1)) {
      const parent = path.slice(0, cut);
      const known = this.#found.get(parent);
      if (known?.kind === 'directory') return;
      const stats = known === undefined ? await lstat(join(this.base, parent)) : undefined;
      if (known !== undefined || !stats?.isDirectory()) {
        throw new ConfigurationError({
          subject: `${entrySubject(path)} below the symlink ${quoted(parent)}`,
          problem: 'is reached through the symlink',
          hint: 'name the link itself or its target',
        });
      }
      this.#found.set(parent, directoryEntry(parent));
    }
  }
}

/** The paths one pattern names, relative to the root; `''` stands for the root itself. */
async function expand(base: string, pattern: string): Promise<string[]> {
  const literal = normalisePath(pattern, () => quoted(pattern));
  if (literal === '') return [''];
  if (await lstatOrUndefined(join(base, literal))) return [literal];
  if (!GLOB_MAGIC.test(pattern)) return [];
  const matches: string[] = [];
  for await (const match of glob(pattern, { cwd: base })) {
    matches.push(normalisePath(match, () => quoted(pattern)));
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
  throw new ConfigurationError({
    subject: entrySubject(path),
    problem: `is ${what}`,
    hint: ONLY_THREE_KINDS,
  });
}

function directoryEntry(path: string): BundleEntry {
  return { path, kind: 'directory', size: 0, executable: true };
}

function childPath(directory: string, child: Dirent<Buffer>): string {
  let name: string;
  try {
    name = utf8.decode(child.name);
  } catch {
    throw new ConfigurationError({
      subject: `entry ${quotedBytes(Buffer.concat([Buffer.from(directory ? `${directory}/` : ''), child.name]))}`,
      problem: 'has a name that is not valid UTF-8',
      hint: 'a bundle’s names are UTF-8, as every host reads them',
    });
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
