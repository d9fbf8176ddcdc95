import { ConfigurationError } from '../errors.js';

/** The only entry kinds a bundle may hold. */
export type EntryKind = 'file' | 'directory' | 'symlink';

/** Symlinks resolved through other symlinks deeper than this are refused, as the kernel does. */
const MAX_LINK_DEPTH = 40;

/**
 * Splits a path as written in a pattern or a tar header into its components: `.` and empty
 * components dropped, a trailing `/` ignored. Refuses what could land outside the root: an
 * absolute path and any `..` component, wherever it stands.
 */
export function pathComponents(path: string, what: string): string[] {
  if (path.includes('\0')) throw new ConfigurationError(`${what} contains a NUL byte`);
  if (path.startsWith('/')) {
    throw new ConfigurationError(`${what} is absolute; expected a path relative to the root`);
  }
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) {
    throw new ConfigurationError(`${what} contains '..'; expected a path inside the root`);
  }
  return parts;
}

/** A bundle must hold something to run: at least one file or symlink. */
export function refuseEmpty(contents: number): void {
  if (contents === 0) {
    throw new ConfigurationError('the bundle is empty; expected at least one file or symlink');
  }
}

/**
 * Orders paths by their UTF-8 bytes, as `LC_ALL=C sort` does. JavaScript compares UTF-16 code
 * units, which puts U+E000..U+FFFF after the surrogates of characters beyond U+FFFF; UTF-8 puts
 * them before.
 */
export function compareUtf8(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * The rules every entry of a bundle obeys, checked the same way when a bundle is packed and when
 * one is unpacked: only files, directories and symlinks; no path written twice or through a
 * symlink; no symlink that resolves outside the bundle, even through other symlinks.
 */
export class BundleRules {
  readonly #kinds = new Map<string, EntryKind>();
  readonly #links = new Map<string, string>();

  /**
   * Admits one entry by its normalised path (components joined by `/`). Directories implied by
   * a path count as directories, so a later symlink or file at that path is a duplicate.
   */
  admit(path: string, kind: EntryKind, linkTarget?: string): void {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const parentKind = this.#kinds.get(parent);
      if (parentKind === 'symlink') {
        throw new ConfigurationError(
          `bundle entry '${path}' would be written through the symlink '${parent}'`,
        );
      }
      if (parentKind === 'file') {
        throw new ConfigurationError(`bundle entry '${path}' is below the file '${parent}'`);
      }
      if (parentKind === undefined) this.#kinds.set(parent, 'directory');
    }
    const existing = this.#kinds.get(path);
    if (existing !== undefined) {
      if (existing === 'directory' && kind === 'directory') return;
      throw new ConfigurationError(`bundle entry '${path}' appears twice`);
    }
    this.#kinds.set(path, kind);
    if (kind === 'symlink') {
      const target = linkTarget ?? '';
      if (target === '') throw new ConfigurationError(`symlink '${path}' has an empty target`);
      if (target.startsWith('/')) {
        throw new ConfigurationError(
          `symlink '${path}' points to the absolute path '${target}'; expected a relative target inside the bundle`,
        );
      }
      this.#links.set(path, target);
      this.#resolve(path, target, 0, false);
    }
  }

  /**
   * Checks what only the whole bundle can tell: symlinks that escape only through other
   * symlinks (`a -> d/l/..` with `d/l -> ..`).
   */
  finish(): void {
    for (const [path, target] of this.#links) this.#resolve(path, target, 0, true);
  }

  /** Walks a link's target from its directory; throws if any step climbs above the root. */
  #resolve(linkPath: string, target: string, depth: number, followLinks: boolean): void {
    const stack = linkPath.split('/').slice(0, -1);
    this.#walk(linkPath, stack, target, depth, followLinks);
  }

  #walk(
    linkPath: string,
    stack: string[],
    target: string,
    depth: number,
    followLinks: boolean,
  ): void {
    if (depth > MAX_LINK_DEPTH) {
      throw new ConfigurationError(`symlink '${linkPath}' is part of a loop or a chain too deep`);
    }
    if (target.startsWith('/')) {
      throw new ConfigurationError(
        `symlink '${linkPath}' resolves through an absolute path; expected a target inside the bundle`,
      );
    }
    for (const part of target.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (stack.length === 0) {
          throw new ConfigurationError(
            `symlink '${linkPath}' points outside the bundle (target '${this.#links.get(linkPath) ?? target}')`,
          );
        }
        stack.pop();
        continue;
      }
      stack.push(part);
      if (!followLinks) continue;
      const next = this.#links.get(stack.join('/'));
      if (next !== undefined) {
        stack.pop();
        this.#walk(linkPath, stack, next, depth + 1, followLinks);
      }
    }
  }
}
