import { ConfigurationError, quoted } from '../errors.js';

/** The only entry kinds a bundle may hold. */
export type EntryKind = 'file' | 'directory' | 'symlink';

/** A link whose lookup passes through more links than this is refused, as the kernel does (ELOOP). */
const MAX_LINKS_FOLLOWED = 40;
/** The longest name a Linux file system takes for one path component (NAME_MAX). */
export const MAX_NAME_BYTES = 255;
/** The longest path (or symlink target) the kernel takes: PATH_MAX, less its NUL. */
export const MAX_PATH_BYTES = 4095;

/** How an entry is named in an error: its path is untrusted, so quoted, escaped and bounded. */
export function entrySubject(path: string, kind?: EntryKind): string {
  return `${kind === 'symlink' ? 'symlink' : 'entry'} ${quoted(path)}`;
}

/** Bytes that may not be UTF-8, quoted: printable ASCII as is, any other byte (and `"`, `\`) as `\xNN`. */
export function quotedBytes(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes.subarray(0, 400)) {
    const plain = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
    out += plain ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `"${out}${bytes.length > 400 ? '…' : ''}"`;
}

/** A `.` or `..` component: a path without one (and without `//`) is in normal form already. */
const DOT_COMPONENT = /(?:^|\/)\.\.?(?:\/|$)/;

/**
 * A path as written in a pattern or a tar header, normalised: `.` and empty components dropped,
 * a trailing `/` ignored, `''` for the root. Refuses what could land outside the root: an
 * absolute path and any `..` component, wherever it stands. `subject` names it in errors.
 */
export function normalisePath(path: string, subject: () => string): string {
  if (path.includes('\0')) {
    throw new ConfigurationError({ subject: subject(), problem: 'contains a NUL byte' });
  }
  if (path.startsWith('/')) {
    throw new ConfigurationError({
      subject: subject(),
      problem: 'is absolute',
      expected: 'a path relative to the root',
    });
  }
  const trimmed = path.replace(/\/+$/, '');
  if (!trimmed.includes('//') && !DOT_COMPONENT.test(trimmed)) return trimmed;
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) {
    throw new ConfigurationError({
      subject: subject(),
      problem: "contains '..'",
      expected: 'a path inside the root',
    });
  }
  return parts.join('/');
}

/** A bundle must hold something to run: at least one file or symlink. */
export function refuseEmpty(contents: number): void {
  if (contents === 0) {
    throw new ConfigurationError({
      subject: 'the bundle',
      problem: 'is empty',
      expected: 'at least one file or symlink',
    });
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

/** One path of the bundle: an entry, or a directory an entry's path implies. */
interface Node {
  kind: EntryKind;
  parent: Node | undefined;
  children?: Map<string, Node>;
  /** A symlink's target, as written. */
  target?: string;
  path: string;
}

/**
 * What a file's place in its directory holds: files are most of a bundle, and all the rules need
 * of one is that it is there, so every file is this one node, with no path or parent of its own
 * (a large tree's were megabytes of heap for the length of the check).
 */
const FILE: Node = { kind: 'file', parent: undefined, path: '' };

/** Where a walk along a link target stands: at a node, or `below` components under it that the bundle does not hold. */
interface Position {
  node: Node;
  below: number;
}

/** A position reached by resolving a link, with the links that took. */
interface Resolved extends Position {
  follows: number;
}

/**
 * The rules every entry of a bundle obeys, checked the same way when a bundle is packed and when
 * one is unpacked: only files, directories and symlinks; names and paths a host's file system
 * takes; no path written twice or through a symlink; no symlink that resolves outside the
 * bundle, even through other symlinks. The cost is linear in the entries' paths and targets:
 * each path is looked up once, each link resolved once.
 */
export class BundleRules {
  readonly #root: Node = { kind: 'directory', parent: undefined, path: '' };
  readonly #nodes = new Map<string, Node>([['', this.#root]]);
  readonly #links: Node[] = [];
  /** Where each link leads, once resolved through other links; `undefined` while resolving. */
  readonly #resolved = new Map<Node, Resolved | undefined>();

  /**
   * Admits one entry by its normalised path (components joined by `/`). Directories implied by
   * a path count as directories, so a later symlink or file at that path is a duplicate.
   */
  admit(path: string, kind: EntryKind, linkTarget?: string): void {
    checkLengths(path, kind, linkTarget);
    const parent = this.#directoryOf(path);
    const name = path.slice(path.lastIndexOf('/') + 1);
    const existing = parent.children?.get(name);
    if (existing !== undefined) {
      if (existing.kind === 'directory' && kind === 'directory') return;
      throw new ConfigurationError({ subject: entrySubject(path), problem: 'appears twice' });
    }
    if (kind === 'file') {
      (parent.children ??= new Map()).set(name, FILE);
      return;
    }
    const node = this.#add(parent, name, kind, path);
    if (kind !== 'symlink') return;
    const target = linkTarget ?? '';
    if (target === '') {
      throw new ConfigurationError({
        subject: entrySubject(path, kind),
        problem: 'has an empty target',
      });
    }
    if (target.startsWith('/')) {
      throw new ConfigurationError({
        subject: entrySubject(path, kind),
        problem: 'points to an absolute path',
        expected: 'a relative target inside the bundle',
        got: quoted(target),
      });
    }
    node.target = target;
    this.#links.push(node);
    this.#walk({ node: parent, below: 0 }, target, { from: node, follow: false });
  }

  /**
   * Checks what only the whole bundle can tell: symlinks that escape only through other
   * symlinks (`a -> d/l/..` with `d/l -> ..`).
   */
  finish(): void {
    for (const link of this.#links) this.#follow(link, link);
  }

  /** The directory node an entry goes into, adding the directories its path implies. */
  #directoryOf(path: string): Node {
    const missing: string[] = [];
    let cut = path.lastIndexOf('/');
    let found = this.#root;
    while (cut !== -1) {
      const parent = path.slice(0, cut);
      const node = this.#nodes.get(parent);
      if (node !== undefined) {
        if (node.kind === 'directory') {
          found = node;
          break;
        }
        // Only directories and symlinks are nodes by path: a file is found below, in its directory.
        throw new ConfigurationError({
          subject: `${entrySubject(path)} below the symlink ${quoted(parent)}`,
          problem: 'would be written through the symlink',
        });
      }
      missing.push(parent);
      cut = parent.lastIndexOf('/');
    }
    for (const parent of missing.reverse()) {
      const name = parent.slice(parent.lastIndexOf('/') + 1);
      if (found.children?.get(name) === FILE) {
        throw new ConfigurationError({
          subject: `${entrySubject(path)} below the file ${quoted(parent)}`,
          problem: 'cannot be written below a file',
        });
      }
      found = this.#add(found, name, 'directory', parent);
    }
    return found;
  }

  #add(parent: Node, name: string, kind: EntryKind, path: string): Node {
    const node: Node = { kind, parent, path };
    parent.children ??= new Map();
    parent.children.set(name, node);
    this.#nodes.set(path, node);
    return node;
  }

  /** Where `link` leads and how many links that takes; memoised, so each link is walked once. */
  #follow(link: Node, origin: Node): Resolved {
    const known = this.#resolved.get(link);
    if (known !== undefined) return known;
    if (this.#resolved.has(link)) throw tooDeep(origin);
    this.#resolved.set(link, undefined);
    const start = { node: link.parent ?? this.#root, below: 0 };
    const end = this.#walk(start, link.target ?? '', { from: origin, follow: true });
    this.#resolved.set(link, end);
    return end;
  }

  /**
   * Walks a target from `position`, one component at a time; throws if any step climbs above
   * the root. Links on the way are followed only once every entry is in (`follow`), counted as
   * the kernel counts them: every link a lookup passes through, nested or not.
   */
  #walk(position: Position, target: string, options: { from: Node; follow: boolean }): Resolved {
    let { node, below } = position;
    let follows = 0;
    for (const part of target.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (below > 0) below--;
        else if (node.parent !== undefined) node = node.parent;
        else {
          throw new ConfigurationError({
            subject: entrySubject(options.from.path, 'symlink'),
            problem: 'points outside the bundle',
            got: quoted(options.from.target ?? target),
          });
        }
        continue;
      }
      const child = below === 0 ? node.children?.get(part) : undefined;
      // Below a file, as below what the bundle does not hold: `..` comes back to its directory.
      if (child === undefined || child === FILE) below++;
      else if (child.kind === 'symlink' && options.follow) {
        const next = this.#follow(child, options.from);
        follows += 1 + next.follows;
        if (follows > MAX_LINKS_FOLLOWED) throw tooDeep(options.from);
        ({ node, below } = next);
      } else node = child;
    }
    return { node, below, follows };
  }
}

function tooDeep(link: Node): ConfigurationError {
  return new ConfigurationError({
    subject: entrySubject(link.path, 'symlink'),
    problem: 'is part of a loop or a chain too deep',
  });
}

/** Names and paths a host's file system takes: what GNU tar there could not create is refused here. */
function checkLengths(path: string, kind: EntryKind, linkTarget: string | undefined): void {
  const refuse = (problem: string, expected: string) =>
    new ConfigurationError({ subject: entrySubject(path, kind), problem, expected });
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_PATH_BYTES) {
    throw refuse(`has a path of ${bytes} bytes`, `at most ${MAX_PATH_BYTES} (PATH_MAX)`);
  }
  // A name of fewer than 86 UTF-16 units is under 256 bytes: only longer ones are measured.
  for (let start = 0; bytes > MAX_NAME_BYTES && start <= path.length;) {
    const slash = path.indexOf('/', start);
    const end = slash === -1 ? path.length : slash;
    const length = end - start > MAX_NAME_BYTES / 3 ? Buffer.byteLength(path.slice(start, end)) : 0;
    if (length > MAX_NAME_BYTES) {
      throw refuse(`has a name of ${length} bytes`, `at most ${MAX_NAME_BYTES} (NAME_MAX)`);
    }
    start = end + 1;
  }
  const targetBytes = linkTarget === undefined ? 0 : Buffer.byteLength(linkTarget);
  if (targetBytes > MAX_PATH_BYTES) {
    throw refuse(`has a target of ${targetBytes} bytes`, `at most ${MAX_PATH_BYTES} (PATH_MAX)`);
  }
}
