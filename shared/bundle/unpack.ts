import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, rm, symlink, utimes } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { extract as tarExtract, type Header } from 'tar-stream';
import { ConfigurationError } from '../errors.js';
import { decompress, type Compression } from './compression.js';
import { BundleRules, pathComponents, refuseEmpty, type EntryKind } from './rules.js';
import { encodeHeader, END_OF_ARCHIVE, entryMode, paddingAfter, type TarEntry } from './tar.js';

/** One entry of a bundle that passed every rule. */
export interface CheckedEntry extends TarEntry {
  /** Seconds since 1970, as the archive says. */
  mtime: number;
  /** A file's bytes; read it (or leave it) before asking for the next entry. */
  content: AsyncIterable<Buffer>;
}

export interface CheckOptions {
  /** Insist on one compression; by default the magic bytes decide, and a plain tar is read as is. */
  compression?: Compression;
  /** Called with `sha256:<hex>` of the bytes as they came in, once they have all been read. */
  onDigest?: (digest: string) => void;
}

export type BundleSource = string | AsyncIterable<Buffer>;

/**
 * Reads a bundle and yields its entries one by one, each checked before it is yielded: only
 * files, directories and symlinks; no absolute path, no `..`; no symlink resolving outside the
 * bundle; no hardlink, device or fifo; nothing written twice or through a symlink. A refusal is
 * a ConfigurationError thrown from the iteration; what the whole bundle must satisfy (not empty,
 * no symlink escaping through other symlinks) is checked after the last entry.
 */
export async function* checkedEntries(
  source: BundleSource,
  options: CheckOptions = {},
): AsyncGenerator<CheckedEntry> {
  const input =
    typeof source === 'string' ? createReadStream(source, { highWaterMark: 1 << 20 }) : source;
  const hash = createHash('sha256');
  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const chunk of input) {
      const bytes = chunk as Buffer;
      hash.update(bytes);
      yield bytes;
    }
  }
  const extract = tarExtract();
  // An entry's stream fails with a bare "destroyed" when the archive breaks mid-entry; the
  // archive's own error, emitted before it closes, says what went wrong.
  let failure: unknown;
  extract.on('error', (error) => (failure = error));
  const closed = new Promise<void>((resolve) => extract.once('close', () => resolve()));
  async function* contents(stream: AsyncIterable<unknown>): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (error) {
      await closed;
      throw asBundleError(failure ?? error);
    }
  }
  const stop = new AbortController();
  const feeding = (async () => {
    for await (const chunk of decompress(hashed(), options.compression)) {
      if (!extract.write(chunk)) await once(extract, 'drain', { signal: stop.signal });
    }
    extract.end(undefined);
  })().catch((error: unknown) => {
    if (!stop.signal.aborted) extract.destroy(error as Error);
  });

  const rules = new BundleRules();
  let count = 0;
  try {
    for await (const stream of extract) {
      const entry = admit(rules, stream.header);
      if (entry !== undefined && entry.kind !== 'directory') count++;
      if (entry !== undefined) yield { ...entry, content: contents(stream) };
      stream.resume();
    }
  } catch (error) {
    throw asBundleError(failure ?? error);
  } finally {
    stop.abort();
    extract.destroy();
    await feeding;
  }
  rules.finish();
  refuseEmpty(count);
  options.onDigest?.(`sha256:${hash.digest('hex')}`);
}

function admit(rules: BundleRules, header: Header): Omit<CheckedEntry, 'content'> | undefined {
  const name = header.name;
  const kind = entryKind(header);
  const parts = pathComponents(name, `bundle entry '${name}'`);
  if (parts.length === 0) {
    if (kind === 'directory') return undefined;
    throw new ConfigurationError(`bundle entry '${name}' has no name`);
  }
  const size = header.size ?? 0;
  if (kind === 'directory' && size > 0) {
    throw new ConfigurationError(`bundle entry '${name}' is a directory with content`);
  }
  const path = parts.join('/');
  const linkTarget = kind === 'symlink' ? (header.linkname ?? '') : undefined;
  rules.admit(path, kind, linkTarget);
  const executable = kind === 'file' && ((header.mode ?? 0) & 0o111) !== 0;
  const mtime = Math.max(0, Math.floor((header.mtime?.getTime() ?? 0) / 1000));
  return { path, kind, size: kind === 'file' ? size : 0, executable, mtime, linkTarget };
}

function entryKind(header: Header): EntryKind {
  switch (header.type) {
    case 'file':
    case 'directory':
    case 'symlink':
      return header.type;
    case 'link':
      throw new ConfigurationError(
        `bundle entry '${header.name}' is a hardlink; a bundle holds only files, directories and symlinks`,
      );
    case 'character-device':
    case 'block-device':
    case 'fifo':
      throw new ConfigurationError(
        `bundle entry '${header.name}' is a ${header.type}; a bundle holds only files, directories and symlinks`,
      );
    default:
      throw new ConfigurationError(
        `bundle entry '${header.name}' has an unsupported type (${String(header.type)})`,
      );
  }
}

function asBundleError(error: unknown): unknown {
  if (error instanceof ConfigurationError) return error;
  if (error instanceof Error && !('code' in error)) {
    return new ConfigurationError(`the bundle is not a valid tar: ${error.message}`);
  }
  return error;
}

/**
 * A plain tar, rebuilt from the checked entries of a bundle, for a host that has tar but no
 * zstd. Only what passed the checks is written, with normalised headers, so quirks of the
 * original archive never reach the host's tar. On a refusal the stream fails before the tar's
 * end: the consumer must treat the extraction as failed and remove it.
 */
export function checkedTar(source: BundleSource, options: CheckOptions = {}): Readable {
  return Readable.from(repack(source, options));
}

async function* repack(source: BundleSource, options: CheckOptions): AsyncGenerator<Buffer> {
  for await (const entry of checkedEntries(source, options)) {
    yield encodeHeader(entry, entry.mtime);
    if (entry.kind !== 'file') continue;
    yield* entry.content;
    const padding = paddingAfter(entry.size);
    if (padding > 0) yield END_OF_ARCHIVE.subarray(0, padding);
  }
  yield END_OF_ARCHIVE;
}

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
      throw new ConfigurationError(
        `the bundle's digest is ${digest}; expected ${options.expectedDigest}`,
      );
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
    throw new ConfigurationError(
      `cannot unpack into '${destination}': expected a new or empty directory`,
    );
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
