import { ConfigurationError, quoted } from '../errors.js';
import { ByteQueue } from './byte-queue.js';
import { quotedBytes } from './rules.js';
import { BLOCK, MAX_MTIME } from './tar.js';

/**
 * A strict reader of POSIX ustar and GNU tar archives, as GNU tar writes them and as
 * `encodeHeader` does. Every header field is checked before the entry is handed on: the
 * checksum, the magic, every number (octal digits, or GNU's base-256, never negative), an mtime
 * a ustar header can hold again, names in UTF-8, and pax records well formed. What the reader
 * does not know (a pax global header, a sparse file, a volume label) is refused, not guessed at.
 */

/** One header as the archive gives it, extended headers applied. */
export interface TarHeader {
  name: string;
  /** The typeflag: `0` file, `1` hardlink, `2` symlink, `3`/`4` devices, `5` directory, `6` fifo… */
  type: string;
  mode: number;
  size: number;
  /** Seconds since 1970. */
  mtime: number;
  linkname: string;
}

export interface TarEntry {
  header: TarHeader;
  /** The entry's header blocks as they were read, extended headers first. */
  raw: readonly Buffer[];
  /** The entry's bytes; read them (or not) before asking for the next entry. */
  content: AsyncIterable<Buffer>;
}

/** How an archive is laid out, as far as it has been read. */
export interface TarLayout {
  /** Every entry's padding so far was zeros. */
  zeroPadding: boolean;
  /** Where the end-of-archive blocks start, once they have been read. */
  end: number | undefined;
}

/** An extended header (pax or GNU long name) larger than this is refused: none needs more. */
const MAX_EXTENDED_BYTES = 1024 * 1024;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
const utf8 = new TextDecoder('utf-8', { fatal: true });

function invalid(problem: string, got?: string): ConfigurationError {
  return new ConfigurationError({
    subject: 'the bundle',
    problem: `is not a valid tar: ${problem}`,
    got,
  });
}

/**
 * Reads `source` (a plain tar) entry by entry; the rest after the end-of-archive blocks is read
 * and dropped. `layout` is kept up to date as the archive is read.
 */
export async function* readTar(
  source: AsyncIterable<Buffer>,
  layout: TarLayout = { zeroPadding: true, end: undefined },
): AsyncGenerator<TarEntry> {
  const bytes = new ByteQueue(source[Symbol.asyncIterator](), (where) =>
    invalid(`the archive ends ${where}`),
  );
  try {
    let extended: Extended = {};
    let raw: Buffer[] = [];
    for (;;) {
      const block = await bytes.read(BLOCK);
      // An archive cut short at an entry's end would read as a smaller one: its end must be there.
      if (block === undefined) throw invalid('the archive ends without its end-of-archive blocks');
      if (block.equals(ZERO_BLOCK)) {
        if (Object.keys(extended).length > 0)
          throw invalid('an extended header has no entry after it');
        layout.end = bytes.consumed - BLOCK;
        await bytes.drain();
        return;
      }
      raw.push(block);
      const fields = readBlock(block);
      if ('LKx'.includes(fields.type)) {
        const { data, values } = await readExtended(bytes, fields);
        raw.push(data);
        extended = { ...extended, ...values };
        continue;
      }
      const header = applyExtended(fields, extended);
      extended = {};
      const content = new Content(bytes, header.size, layout);
      yield { header, raw, content };
      raw = [];
      await content.skip();
    }
  } finally {
    await bytes.close();
  }
}

/** What extended headers say about the entry that follows them. */
interface Extended {
  name?: string;
  linkname?: string;
  size?: number;
  mtime?: number;
}

interface BlockFields extends TarHeader {
  /** The raw size field, which an extended header's own length is read from. */
  blockSize: number;
}

function readBlock(block: Buffer): BlockFields {
  const checksum = readNumber(block, 148, 8, 'checksum');
  if (checksum !== unsignedSum(block) && checksum !== signedSum(block)) {
    throw invalid('a header checksum does not match');
  }
  const magic = block.toString('latin1', 257, 265);
  const posix = magic === 'ustar\u000000';
  if (!posix && magic !== 'ustar  \u0000') {
    throw invalid('a header has no ustar magic', quoted(magic));
  }
  const prefix = posix ? text(block, 345, 155, 'name') : '';
  const base = text(block, 0, 100, 'name');
  const typeflag = block[156] === 0 ? '0' : String.fromCharCode(block[156]!);
  const name = prefix === '' ? base : `${prefix}/${base}`;
  for (const [offset, length, what] of [
    [108, 8, 'uid'],
    [116, 8, 'gid'],
    [329, 8, 'devmajor'],
    [337, 8, 'devminor'],
  ] as const) {
    readNumber(block, offset, length, what, true);
  }
  const size = readNumber(block, 124, 12, 'size');
  return {
    name,
    // Old tars mark a directory only by the `/` after its name.
    type: typeflag === '0' && name.endsWith('/') ? '5' : typeflag,
    mode: readNumber(block, 100, 8, 'mode'),
    size,
    blockSize: size,
    mtime: checkedMtime(readNumber(block, 136, 12, 'mtime'), name),
    linkname: text(block, 157, 100, 'link target'),
  };
}

/**
 * A numeric field: octal digits after optional spaces, ended by NUL or spaces to the field's end;
 * or GNU's base-256, marked by the high bit of the first byte. `optional` fields may be blank.
 */
function readNumber(
  block: Buffer,
  offset: number,
  length: number,
  what: string,
  optional = false,
): number {
  const field = block.subarray(offset, offset + length);
  if ((field[0]! & 0x80) !== 0) {
    if ((field[0]! & 0x40) !== 0) throw invalid(`the ${what} field is negative`);
    let value = field[0]! & 0x3f;
    for (const byte of field.subarray(1)) value = value * 256 + byte;
    if (!Number.isSafeInteger(value)) throw invalid(`the ${what} field is too large`);
    return value;
  }
  const raw = field.toString('latin1');
  const match = /^ *([0-7]*)[ \0]*$/.exec(raw);
  if (match === null || (match[1] === '' && !optional)) {
    throw invalid(`the ${what} field is not an octal number`, quoted(raw));
  }
  return match[1] === '' ? 0 : parseInt(match[1]!, 8);
}

/** The largest mtime is what a ustar header's 11 octal digits hold again when the tar is rebuilt. */
function checkedMtime(mtime: number, name: string): number {
  if (!Number.isSafeInteger(mtime) || mtime < 0 || mtime > MAX_MTIME) {
    throw new ConfigurationError({
      subject: `entry ${quoted(name)}`,
      problem: 'has an mtime out of range',
      expected: `whole seconds from 0 to ${MAX_MTIME}`,
      got: String(mtime),
    });
  }
  return mtime;
}

function unsignedSum(block: Buffer): number {
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += block[i]!;
  return sum;
}

function signedSum(block: Buffer): number {
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += (block[i]! << 24) >> 24;
  return sum;
}

/** A NUL-terminated name field, which must be UTF-8. */
function text(block: Buffer, offset: number, length: number, what: string): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return decodeName(end === -1 ? field : field.subarray(0, end), what);
}

function decodeName(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ConfigurationError({
      subject: `entry ${quotedBytes(bytes)}`,
      problem: `has a ${what} that is not valid UTF-8`,
    });
  }
}

/** An extended header's data blocks, and what they say. */
async function readExtended(
  bytes: ByteQueue,
  fields: BlockFields,
): Promise<{ data: Buffer; values: Extended }> {
  if (fields.blockSize > MAX_EXTENDED_BYTES) {
    throw invalid(
      `an extended header of ${fields.blockSize} bytes is larger than ${MAX_EXTENDED_BYTES}`,
    );
  }
  const data = await bytes.read(fields.blockSize + paddingOf(fields.blockSize));
  if (data === undefined) throw invalid('the archive ends inside an extended header');
  const body = data.subarray(0, fields.blockSize);
  if (fields.type === 'x') return { data, values: paxRecords(body) };
  const end = body.indexOf(0);
  const value = decodeName(end === -1 ? body : body.subarray(0, end), 'name');
  return { data, values: fields.type === 'L' ? { name: value } : { linkname: value } };
}

/** `<length> <key>=<value>\n` records; the ones this reader does not apply are checked for form only. */
function paxRecords(body: Buffer): Extended {
  const extended: Extended = {};
  let offset = 0;
  while (offset < body.length) {
    const space = body.indexOf(0x20, offset);
    const lengthText = body.toString('latin1', offset, space === -1 ? offset : space);
    const length = /^[1-9][0-9]{0,7}$/.test(lengthText) ? Number(lengthText) : 0;
    if (
      space === -1 ||
      length === 0 ||
      offset + length > body.length ||
      body[offset + length - 1] !== 0x0a
    ) {
      throw invalid('a pax record is malformed');
    }
    const record = decodeName(body.subarray(space + 1, offset + length - 1), 'pax record');
    offset += length;
    const equals = record.indexOf('=');
    if (equals < 1) throw invalid('a pax record has no key', quoted(record));
    applyPax(extended, record.slice(0, equals), record.slice(equals + 1));
  }
  return extended;
}

function applyPax(extended: Extended, key: string, value: string): void {
  if (key.startsWith('GNU.sparse.')) throw invalid('sparse files are not supported');
  switch (key) {
    case 'path':
      extended.name = value;
      return;
    case 'linkpath':
      extended.linkname = value;
      return;
    case 'size':
      extended.size = paxNumber(key, value, /^[0-9]+$/);
      return;
    case 'mtime':
      extended.mtime = Math.floor(paxNumber(key, value, /^-?[0-9]+(\.[0-9]+)?$/));
      return;
    case 'uid':
    case 'gid':
      paxNumber(key, value, /^[0-9]+$/);
      return;
    case 'atime':
    case 'ctime':
      paxNumber(key, value, /^-?[0-9]+(\.[0-9]+)?$/);
      return;
    case 'hdrcharset':
      if (value !== 'ISO-IR 10646 2000 UTF-8')
        throw invalid('pax names are not UTF-8', quoted(value));
  }
}

function paxNumber(key: string, value: string, form: RegExp): number {
  const number = Number(value);
  if (!form.test(value) || !Number.isFinite(number) || Math.abs(number) > Number.MAX_SAFE_INTEGER) {
    throw invalid(`the pax ${key} record is not a number`, quoted(value));
  }
  return number;
}

function applyExtended(fields: BlockFields, extended: Extended): TarHeader {
  const name = extended.name ?? fields.name;
  return {
    name,
    type: fields.type === '0' && name.endsWith('/') ? '5' : fields.type,
    mode: fields.mode,
    size: extended.size ?? fields.size,
    mtime: extended.mtime === undefined ? fields.mtime : checkedMtime(extended.mtime, name),
    linkname: extended.linkname ?? fields.linkname,
  };
}

function paddingOf(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** An entry's content: `size` bytes, then padding to the next block. */
class Content implements AsyncIterable<Buffer> {
  #left: number;
  readonly #padding: number;

  constructor(
    private readonly bytes: ByteQueue,
    size: number,
    private readonly layout: TarLayout,
  ) {
    this.#left = size;
    this.#padding = paddingOf(size);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    while (this.#left > 0) {
      const chunk = await this.bytes.next(this.#left);
      this.#left -= chunk.length;
      yield chunk;
    }
  }

  /** Reads what the consumer left, so the next header is where the archive says. */
  async skip(): Promise<void> {
    while (this.#left > 0) this.#left -= (await this.bytes.next(this.#left)).length;
    if (this.#padding === 0) return;
    const padding = await this.bytes.read(this.#padding);
    if (padding === undefined) throw invalid('the archive ends inside an entry');
    if (this.layout.zeroPadding && !padding.equals(ZERO_BLOCK.subarray(0, this.#padding))) {
      this.layout.zeroPadding = false;
    }
  }
}
