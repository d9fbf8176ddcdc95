import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { ConfigurationError } from '../errors.js';
import type { ContentEntry, ReleaseContent } from './content.js';
import { encodeHeader, END_OF_ARCHIVE, entryMode, paddingAfter } from './tar.js';

const BLOCK = 512;

/**
 * A hard-link entry: `path` made a second name of the file already at `target`, both relative
 * to where the archive is unpacked. Written as a symlink's header (which carries a long target
 * in a pax record) turned into type `1`, with the file's own mode: a tar that applies modes to
 * hard links must not change the file it links to.
 */
export function hardLinkHeader(
  path: string,
  target: string,
  options: { executable: boolean; mtime: number },
): Buffer {
  const header = encodeHeader(
    { path, kind: 'symlink', size: 0, executable: false, linkTarget: target },
    options.mtime,
  );
  const block = header.subarray(header.length - BLOCK);
  block.write('1', 156, 1, 'latin1');
  const mode = entryMode('file', options.executable);
  block.write(mode.toString(8).padStart(7, '0'), 100, 7, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return header;
}

export interface ReleaseTarOptions {
  /** The directory the entries go under, relative to where the host unpacks: `<id>.tmp`. */
  into: string;
  /** The base release's directory, relative to the same place: `<base id>`. */
  base?: string;
  /** Files the host hard-links from the base instead of receiving. */
  carry?: ReadonlySet<string>;
}

/** Bytes read ahead of a file that starts where the last read ended: a full transfer. */
const READ_AHEAD = 1024 * 1024;

/**
 * Reads file bytes from the content file: in large reads while they come one after the other
 * (a full transfer reads the file once, front to back), else just the bytes asked for.
 */
class ContentReader {
  readonly #handle: FileHandle;
  #buffer = Buffer.alloc(0);
  /** Where `#buffer` starts in the file. */
  #start = 0;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  async *read(offset: number, size: number): AsyncGenerator<Buffer> {
    const end = offset + size;
    let at = offset;
    while (at < end) {
      const bufferEnd = this.#start + this.#buffer.length;
      if (at >= this.#start && at < bufferEnd) {
        const to = Math.min(bufferEnd, end);
        yield this.#buffer.subarray(at - this.#start, to - this.#start);
        at = to;
        continue;
      }
      const length = at === bufferEnd ? READ_AHEAD : Math.min(end - at, READ_AHEAD);
      // A new buffer each time: pieces handed out earlier may still be waiting to be sent.
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await this.#handle.read(buffer, 0, length, at);
      if (bytesRead < Math.min(length, end - at)) {
        throw new Error('the release content file is shorter than its entries say');
      }
      this.#buffer = buffer.subarray(0, bytesRead);
      this.#start = at;
    }
  }
}

function changed(entry: ContentEntry): ConfigurationError {
  return new ConfigurationError({
    subject: `bundle entry ${entry.path}`,
    problem: 'changed on the runner since the bundle was verified',
  });
}

/**
 * The bundle's entries as a host unpacks them to make a release: each written anew under `into`
 * from what the verified pass recorded (quirks of the original archive never reach the host's
 * tar), except the files in `carry`, which become hard links to `<base>/<path>`. Without `carry`
 * it is the whole bundle: a full transfer. Every file that travels is hashed again on its way
 * and must still be what the index says; the stream fails otherwise. It has no end-of-archive
 * blocks: the release's own files follow (releaseFilesTar).
 */
export async function* releaseTar(
  content: ReleaseContent,
  options: ReleaseTarOptions,
): AsyncGenerator<Buffer> {
  const carry = options.carry ?? new Set<string>();
  if (carry.size > 0 && options.base === undefined) {
    throw new Error('files to hard-link need the base release they are linked from');
  }
  const handle = await open(content.file, 'r');
  try {
    const reader = new ContentReader(handle);
    for (const entry of content.entries) {
      const path = `${options.into}/${entry.path}`;
      const executable = entry.kind === 'file' && entry.mode === 0o755;
      if (entry.kind === 'file' && carry.has(entry.path)) {
        yield hardLinkHeader(path, `${options.base ?? ''}/${entry.path}`, {
          executable,
          mtime: entry.mtime,
        });
        continue;
      }
      const { kind, size, linkTarget } = entry;
      yield encodeHeader({ path, kind, size, executable, linkTarget }, entry.mtime);
      if (kind !== 'file') continue;
      const hash = createHash('sha256');
      for await (const chunk of reader.read(entry.offset, size)) {
        hash.update(chunk);
        yield chunk;
      }
      if (hash.digest('hex') !== entry.sha256) throw changed(entry);
      const padding = paddingAfter(size);
      if (padding > 0) yield END_OF_ARCHIVE.subarray(0, padding);
    }
  } finally {
    await handle.close();
  }
}

/** A file the release writes itself, under `.release/` or its `.env`. */
export interface ReleaseFile {
  path: '.env' | `.release/${string}`;
  content: Buffer;
  /** 0644 unless said: the `.env` is 0600 from the moment it exists. */
  mode?: number;
}

/** The release's own files under `into`, in order, then the end of the archive. */
export function* releaseFilesTar(into: string, files: readonly ReleaseFile[]): Generator<Buffer> {
  const mtime = Math.floor(Date.now() / 1000);
  const path = `${into}/.release`;
  yield encodeHeader({ path, kind: 'directory', size: 0, executable: false }, mtime);
  for (const file of files) {
    const size = file.content.length;
    const entry = { path: `${into}/${file.path}`, size, executable: false, mode: file.mode };
    yield encodeHeader({ ...entry, kind: 'file' }, mtime);
    yield file.content;
    const padding = paddingAfter(size);
    if (padding > 0) yield END_OF_ARCHIVE.subarray(0, padding);
  }
  yield END_OF_ARCHIVE;
}
