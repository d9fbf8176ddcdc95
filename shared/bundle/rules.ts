import { ConfigurationError, quoted } from '../errors.js';

/** The only entry kinds a bundle may hold. */
export type EntryKind = 'file' | 'directory' | 'symlink';

/** Symlinks resolved through other symlinks deeper than this are refused, as the kernel does. */
const MAX_LINK_DEPTH = 40;
/** The longest name a Linux file system takes for one path component (NAME_MAX). */
export const MAX_NAME_BYTES = 255;
/** The longest path (or symlink target) the kernel takes: PATH_MAX, less its NUL. */
export const MAX_PATH_BYTES = 4095;

/** How an entry is named in an error: its path is untrusted, so quoted, escaped and bounded. */
export function entrySubject(path: string, kind: EntryKind | 'entry' = 'entry'): string {
  return `${kind === 'symlink' ? 'symlink' : 'entry'} ${quoted(path)}`;
}

/**
 * Splits a path as written in a pattern or a tar header into its components: `.` and empty
 * components dropped, a trailing `/` ignored. Refuses what could land outside the root: an
 * absolute path and any `..` component, wherever it stands. `subject` names it in errors.
 */
export function pathComponents(path: string, subject: string): string[] {
  if (path.includes('\0'))
    throw new ConfigurationError({ subject, problem: 'contains a NUL byte' });
  if (path.startsWith('/')) {
    throw new ConfigurationError({
      subject,
      problem: 'is absolute',
      expected: 'a path relative to the root',
    });
  }
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) {
    throw new ConfigurationError({
      subject,
      problem: "contains '..'",
      expected: 'a path inside the root',
    });
  }
  return parts;
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

/** Where a walk along a link target stands: at a node, or `below` components under it that the bundle does not hold. */
interface Position {
  node: Node;
  below: number;
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
  readonly #resolved = new Map<Node, Position | undefined>();

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
    this.#walk({ node: parent, below: 0 }, target, { from: node });
  }

  /**
   * Checks what only the whole bundle can tell: symlinks that escape only through other
   * symlinks (`a -> d/l/..` with `d/l -> ..`).
   */
  finish(): void {
    for (const link of this.#links) this.#follow(link, link, 0);
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
        throw new ConfigurationError({
          subject: `${entrySubject(path)} below the ${node.kind} ${quoted(parent)}`,
          problem:
            node.kind === 'symlink'
              ? 'would be written through the symlink'
              : 'cannot be written below a file',
        });
      }
      missing.push(parent);
      cut = parent.lastIndexOf('/');
    }
    for (const parent of missing.reverse()) {
      found = this.#add(found, parent.slice(parent.lastIndexOf('/') + 1), 'directory', parent);
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

  /** Where `link` leads, following the links it passes through; memoised per link. */
  #follow(link: Node, origin: Node, depth: number): Position {
    const known = this.#resolved.get(link);
    if (known !== undefined) return known;
    if (depth > MAX_LINK_DEPTH || this.#resolved.has(link)) {
      throw new ConfigurationError({
        subject: entrySubject(origin.path, 'symlink'),
        problem: 'is part of a loop or a chain too deep',
      });
    }
    this.#resolved.set(link, undefined);
    const start = { node: link.parent ?? this.#root, below: 0 };
    const end = this.#walk(start, link.target ?? '', { from: origin, depth });
    this.#resolved.set(link, end);
    return end;
  }

  /**
   * Walks a target from `position`, one component at a time; throws if any step climbs above
   * the root. Links on the way are followed only when `depth` is given (once every entry is in).
   */
  #walk(position: Position, target: string, options: { from: Node; depth?: number }): Position {
    let { node, below } = position;
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
      if (child === undefined) below++;
      else if (child.kind === 'symlink' && options.depth !== undefined) {
        ({ node, below } = this.#follow(child, options.from, options.depth + 1));
      } else node = child;
    }
    return { node, below };
  }
}

/** Names and paths a host's file system takes: what GNU tar there could not create is refused here. */
function checkLengths(path: string, kind: EntryKind, linkTarget: string | undefined): void {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_PATH_BYTES) {
    throw new ConfigurationError({
      subject: entrySubject(path, kind),
      problem: `has a path of ${bytes} bytes`,
      expected: `at most ${MAX_PATH_BYTES} (PATH_MAX)`,
    });
  }
  for (const part of path.split('/')) {
    const length = Buffer.byteLength(part);
    if (length > MAX_NAME_BYTES) {
      throw new ConfigurationError({
        subject: entrySubject(path, kind),
        problem: `has a name of ${length} bytes`,
        expected: `at most ${MAX_NAME_BYTES} (NAME_MAX)`,
      });
    }
  }
  const targetBytes = linkTarget === undefined ? 0 : Buffer.byteLength(linkTarget);
  if (targetBytes > MAX_PATH_BYTES) {
    throw new ConfigurationError({
      subject: entrySubject(path, kind),
      problem: `has a target of ${targetBytes} bytes`,
      expected: `at most ${MAX_PATH_BYTES} (PATH_MAX)`,
    });
  }
}
