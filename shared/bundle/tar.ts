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
function paxRecords(entry: TarEntry, name: string, linkname: string, size: number): string[] {
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
  const records = paxRecords(entry, name, linkname, size);
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
  const records = paxRecords(entry, name, linkname, size);
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
      mode: entry.mode ?? entryMode(entry.kind, entry.executable),
      size: size > MAX_OCTAL_SIZE ? 0 : size,
      mtime,
      type: entry.kind === 'file' ? '0' : entry.kind === 'symlink' ? '2' : '5',
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

/** Text into a field as latin1 (a character's low byte), cut to the field: what Buffer.write does, without a call into C++ per field. */
function text(block: Buffer, value: string, offset: number, length: number): void {
  const count = Math.min(value.length, length);
  for (let i = 0; i < count; i++) block[offset + i] = value.charCodeAt(i) & 0xff;
}

function writeUstar(fields: UstarFields, block: Buffer, at: number): void {
  block.fill(0, at, at + BLOCK);
  text(block, fields.name, at, 100);
  octal(block, fields.mode, at + 100, 8);
  octal(block, 0, at + 108, 8);
  octal(block, 0, at + 116, 8);
  octal(block, fields.size, at + 124, 12);
  octal(block, fields.mtime, at + 136, 12);
  text(block, fields.type, at + 156, 1);
  text(block, fields.linkname, at + 157, 100);
  text(block, 'ustar\x0000', at + 257, 8);
  octal(block, 0, at + 329, 8);
  octal(block, 0, at + 337, 8);
  text(block, fields.prefix, at + 345, 155);
  checksum(block, at);
}

/** The header's checksum, summed with its own field read as spaces. */
export function checksum(block: Buffer, at: number): void {
  block.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + BLOCK; i++) sum += block[i] ?? 0;
  text(block, `${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 8);
}

/** An octal number filling a field but its last byte, which stays NUL. */
function octal(block: Buffer, value: number, offset: number, length: number): void {
  text(block, value.toString(8).padStart(length - 1, '0'), offset, length - 1);
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
