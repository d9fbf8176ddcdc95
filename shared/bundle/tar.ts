import type { EntryKind } from './rules.js';

/** The tar entry a bundle holds: one of three kinds, with nothing else worth writing down. */
export interface TarEntry {
  path: string;
  kind: EntryKind;
  size: number;
  executable: boolean;
  linkTarget?: string;
  /** A mode other than the bundle's own (0644, 0755): a release's `.env` is 0600. */
  mode?: number;
}

export const BLOCK = 512;

/** Two zero blocks: the end of a tar archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

/** The only modes a bundle carries: no setuid, no group or world write, no owner quirks. */
export function entryMode(kind: EntryKind, executable: boolean): number {
  if (kind === 'directory') return 0o755;
  if (kind === 'symlink') return 0o777;
  return executable ? 0o755 : 0o644;
}

/** Zero bytes after `size` bytes of content, up to the next 512-byte block. */
export function paddingAfter(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The largest size an 11-digit octal field holds; larger files get a pax `size` record. */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;
/** The latest mtime a ustar header holds (11 octal digits): early in the year 2242. */
export const MAX_MTIME = 8 ** 11 - 1;

/**
 * The header blocks of one entry, in the POSIX ustar format: uid and gid 0, no user or group
 * names, one mtime, normalised modes, `/` after a directory's name. What ustar cannot hold (a
 * long or non-ASCII name or link target, a file of 8 GiB or more) goes into a pax extended header
 * first, as GNU tar and every POSIX tar read it. The same entry always gives the same bytes.
 */
export function encodeHeader(entry: TarEntry, mtime: number): Buffer {
  const out = Buffer.alloc(headerLength(entry));
  writeHeader(entry, mtime, out, 0);
  return out;
}

/** What ustar cannot hold of an entry: its pax records, or none. */
function paxRecords(name: string, linkname: string, size: number): string[] {
  const records: string[] = [];
  if (splitName(name) === undefined) records.push(paxRecord('path', name));
  if (linkname !== '' && !fitsUstar(linkname, 100)) records.push(paxRecord('linkpath', linkname));
  if (size > MAX_OCTAL_SIZE) records.push(paxRecord('size', String(size)));
  return records;
}

function parts(entry: TarEntry) {
  const name = entry.kind === 'directory' ? `${entry.path}/` : entry.path;
  const linkname = entry.kind === 'symlink' ? (entry.linkTarget ?? '') : '';
  const size = entry.kind === 'file' ? entry.size : 0;
  return { name, linkname, size };
}

/** The bytes encodeHeader gives an entry: 512, or more with a pax header. */
export function headerLength(entry: TarEntry): number {
  const { name, linkname, size } = parts(entry);
  const records = paxRecords(name, linkname, size);
  if (records.length === 0) return BLOCK;
  const pax = Buffer.byteLength(records.join(''), 'utf-8');
  return BLOCK + pax + paddingAfter(pax) + BLOCK;
}

/**
 * Writes an entry's header blocks into `out` at `at`, as encodeHeader makes them, and returns
 * their length: a stream of many entries is written in place, without a buffer per header.
 */
export function writeHeader(entry: TarEntry, mtime: number, out: Buffer, at: number): number {
  const { name, linkname, size } = parts(entry);
  const mode = entry.mode ?? entryMode(entry.kind, entry.executable);
  const type = entry.kind === 'file' ? '0' : entry.kind === 'symlink' ? '2' : '5';
  return writeEntry({ name, linkname, size, mode, type }, mtime, out, at);
}

/**
 * Writes a hard-link entry into `out` at `at` and returns its length: `path` made a second name
 * of the file already at `target` (a long target in a pax record, as a symlink's), with the
 * file's own mode: a tar that applies modes to hard links must not change the file it links to.
 */
export function writeHardLink(
  link: { path: string; target: string; executable: boolean },
  mtime: number,
  out: Buffer,
  at: number,
): number {
  const mode = entryMode('file', link.executable);
  const fields = { name: link.path, linkname: link.target, size: 0, mode, type: '1' };
  return writeEntry(fields, mtime, out, at);
}

/** An entry's header blocks: a pax header first for what ustar cannot hold, then the ustar one. */
function writeEntry(
  entry: { name: string; linkname: string; size: number; mode: number; type: string },
  mtime: number,
  out: Buffer,
  at: number,
): number {
  const { name, linkname, size } = entry;
  const records = paxRecords(name, linkname, size);
  let offset = at;
  if (records.length > 0) {
    const pax = Buffer.from(records.join(''), 'utf-8');
    const fields = { name: 'PaxHeader', prefix: '', mode: 0o644, size: pax.length, mtime };
    writeUstar({ ...fields, type: 'x', linkname: '' }, out, offset);
    pax.copy(out, offset + BLOCK);
    const padding = paddingAfter(pax.length);
    out.fill(0, offset + BLOCK + pax.length, offset + BLOCK + pax.length + padding);
    offset += BLOCK + pax.length + padding;
  }
  const split = splitName(name);
  writeUstar(
    {
      name: split?.name ?? ustarFallback(name),
      prefix: split?.prefix ?? '',
      mode: entry.mode,
      size: size > MAX_OCTAL_SIZE ? 0 : size,
      mtime,
      type: entry.type,
      linkname: fitsUstar(linkname, 100) ? linkname : '',
    },
    out,
    offset,
  );
  return offset + BLOCK - at;
}

interface UstarFields {
  name: string;
  prefix: string;
  mode: number;
  size: number;
  mtime: number;
  type: string;
  linkname: string;
}

/**
 * Text into a field as latin1 (a character's low byte), cut to the field: what Buffer.write
 * does, without a call into C++ per field. Returns the sum of the bytes written, for the
 * checksum.
 */
function text(block: Buffer, value: string, offset: number, length: number): number {
  const count = Math.min(value.length, length);
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const byte = value.charCodeAt(i) & 0xff;
    block[offset + i] = byte;
    sum += byte;
  }
  return sum;
}

/**
 * Writes one header block. The checksum is the sum of the bytes written (the rest are zeros)
 * with its own field read as spaces: no second pass over the block.
 */
function writeUstar(fields: UstarFields, block: Buffer, at: number): void {
  block.fill(0, at, at + BLOCK);
  let sum = 8 * 0x20;
  sum += text(block, fields.name, at, 100);
  sum += octal(block, fields.mode, at + 100, 8);
  sum += octal(block, 0, at + 108, 8);
  sum += octal(block, 0, at + 116, 8);
  sum += octal(block, fields.size, at + 124, 12);
  sum += octal(block, fields.mtime, at + 136, 12);
  sum += text(block, fields.type, at + 156, 1);
  sum += text(block, fields.linkname, at + 157, 100);
  sum += text(block, 'ustar\x0000', at + 257, 8);
  sum += octal(block, 0, at + 329, 8);
  sum += octal(block, 0, at + 337, 8);
  sum += text(block, fields.prefix, at + 345, 155);
  // Six octal digits, a NUL and a space.
  octal(block, sum, at + 148, 7);
  block[at + 155] = 0x20;
}

/**
 * An octal number filling a field but its last byte, which stays NUL; returns the sum of the
 * digits' bytes. The number fits: sizes and mtimes too large for the field go elsewhere.
 */
function octal(block: Buffer, value: number, offset: number, length: number): number {
  let sum = 0;
  let rest = value;
  for (let i = offset + length - 2; i >= offset; i--) {
    const digit = 0x30 + (rest % 8);
    block[i] = digit;
    sum += digit;
    rest = Math.floor(rest / 8);
  }
  return sum;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function fitsUstar(value: string, length: number): boolean {
  return PRINTABLE_ASCII.test(value) && value.length <= length;
}

/** Splits a name into ustar's prefix (155 bytes) and name (100 bytes) at a `/`, if it fits. */
function splitName(name: string): { prefix: string; name: string } | undefined {
  if (!PRINTABLE_ASCII.test(name)) return undefined;
  if (name.length <= 100) return { prefix: '', name };
  // A directory's trailing `/` belongs to the name part; the split is at a `/` before it.
  for (let cut = name.indexOf('/'); cut !== -1; cut = name.indexOf('/', cut + 1)) {
    const prefix = name.slice(0, cut);
    const rest = name.slice(cut + 1);
    if (prefix.length > 155) return undefined;
    if (rest.length <= 100 && rest !== '' && rest !== '/') return { prefix, name: rest };
  }
  return undefined;
}

/** What a tar that ignores pax headers sees instead of a name only pax can hold. */
function ustarFallback(name: string): string {
  return Buffer.from(name, 'utf-8').subarray(0, 100).toString('latin1');
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  // The length counts its own digits.
  const bodyLength = Buffer.byteLength(body, 'utf-8');
  const digits = String(bodyLength).length;
  let length = bodyLength + digits;
  if (String(length).length > digits) length++;
  return `${length}${body}`;
}
