import type { EntryKind } from './rules.js';

/** The tar entry a bundle holds: one of three kinds, with nothing else worth writing down. */
export interface TarEntry {
  path: string;
  kind: EntryKind;
  size: number;
  executable: boolean;
  linkTarget?: string;
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
  const name = entry.kind === 'directory' ? `${entry.path}/` : entry.path;
  const linkname = entry.kind === 'symlink' ? (entry.linkTarget ?? '') : '';
  const size = entry.kind === 'file' ? entry.size : 0;
  const records: string[] = [];
  const split = splitName(name);
  if (split === undefined) records.push(paxRecord('path', name));
  if (linkname !== '' && !fitsUstar(linkname, 100)) records.push(paxRecord('linkpath', linkname));
  if (size > MAX_OCTAL_SIZE) records.push(paxRecord('size', String(size)));

  const header = ustarBlock({
    name: split?.name ?? ustarFallback(name),
    prefix: split?.prefix ?? '',
    mode: entryMode(entry.kind, entry.executable),
    size: size > MAX_OCTAL_SIZE ? 0 : size,
    mtime,
    type: entry.kind === 'file' ? '0' : entry.kind === 'symlink' ? '2' : '5',
    linkname: fitsUstar(linkname, 100) ? linkname : '',
  });
  if (records.length === 0) return header;

  const pax = Buffer.from(records.join(''), 'utf-8');
  const paxHeader = ustarBlock({
    name: 'PaxHeader',
    prefix: '',
    mode: 0o644,
    size: pax.length,
    mtime,
    type: 'x',
    linkname: '',
  });
  const out = Buffer.alloc(BLOCK + pax.length + paddingAfter(pax.length) + BLOCK);
  paxHeader.copy(out, 0);
  pax.copy(out, BLOCK);
  header.copy(out, out.length - BLOCK);
  return out;
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

function ustarBlock(fields: UstarFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(fields.name, 0, 100, 'latin1');
  octal(block, fields.mode, 100, 8);
  octal(block, 0, 108, 8);
  octal(block, 0, 116, 8);
  octal(block, fields.size, 124, 12);
  octal(block, fields.mtime, 136, 12);
  block.write(fields.type, 156, 1, 'latin1');
  block.write(fields.linkname, 157, 100, 'latin1');
  block.write('ustar\x0000', 257, 8, 'latin1');
  octal(block, 0, 329, 8);
  octal(block, 0, 337, 8);
  block.write(fields.prefix, 345, 155, 'latin1');
  // The checksum is summed with its own field read as spaces.
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}

/** An octal number filling a field but its last byte, which stays NUL. */
function octal(block: Buffer, value: number, offset: number, length: number): void {
  block.write(value.toString(8).padStart(length - 1, '0'), offset, length - 1, 'latin1');
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
