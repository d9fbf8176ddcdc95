import { shellQuote as q } from '../../names.js';

/*
 * The host side of an incremental transfer, as POSIX sh builders. A release is received as
 * one tar stream unpacked in `releases/`, every name under `<id>.tmp/`: directories, symlinks,
 * the files that travel, and hard-link entries naming `<base>/<path>` for the files the host
 * already has in its newest release, so one tar process makes all the links. Before, the base
 * release is checked against its own `.release/index`: a file edited on the host (content or
 * mode) is reported and travels instead of being linked.
 *
 * The host needs POSIX sh, tar, find, awk and sort; to link files it needs one of sha256sum
 * (GNU coreutils, busybox), shasum (perl, macOS) or openssl; to receive compressed streams,
 * zstd or else gzip. Without a hash tool every file travels; without a decompressor the stream
 * is a plain tar.
 */

export type Decompressor = 'zstd' | 'gzip';
export type HashTool = 'sha256sum' | 'shasum' | 'openssl';

export interface HostTools {
  decompressor: Decompressor | undefined;
  hash: HashTool | undefined;
}

/** Exit statuses; the same numbers mean the same as in the other host scripts. */
export const DELTA_EXIT = { missing: 79, noTar: 127 } as const;

const HASH_COMMAND: Record<HashTool, string> = {
  sha256sum: 'sha256sum',
  shasum: 'shasum -a 256',
  openssl: 'openssl dgst -sha256 -r',
};

const DECOMPRESS: Record<Decompressor, string> = { zstd: 'zstd -q -d -c', gzip: 'gzip -d -c' };
const COMPRESS: Record<Decompressor, string> = { zstd: 'zstd -q -c', gzip: 'gzip -c' };

function enter(root: string): string {
  return `set -u\ncd ${q(root)} || exit ${DELTA_EXIT.missing}`;
}

/** Prints which decompressor and hash tool the host has, as one line: `tools <d> <h>`. */
export function hostToolsScript(): string {
  const first = (variable: string, tools: string[]) =>
    [
      `${variable}=none`,
      `for tool in ${tools.join(' ')}; do`,
      `  if command -v "$tool" >/dev/null 2>&1; then ${variable}=$tool; break; fi`,
      `done`,
    ].join('\n');
  return [
    'set -u',
    first('d', ['zstd', 'gzip']),
    first('h', Object.keys(HASH_COMMAND)),
    `printf 'tools %s %s\\n' "$d" "$h"`,
    '',
  ].join('\n');
}

export function parseHostTools(stdout: Buffer): HostTools {
  const line = stdout
    .toString('utf8')
    .split('\n')
    .find((text) => text.startsWith('tools '));
  const [, decompressor, hash] = line?.split(' ') ?? [];
  return {
    decompressor: decompressor === 'zstd' || decompressor === 'gzip' ? decompressor : undefined,
    hash: hash !== undefined && hash in HASH_COMMAND ? (hash as HashTool) : undefined,
  };
}

/**
 * Reads the base index and the hash tool's lines (`<hex>  ./path`, or ` *./path` from openssl)
 * after `mode <octal>` lines, and prints the plain paths of files the index lists that are not
 * on the host as listed: missing, another kind, another mode or other bytes. A path with a
 * backslash is never compared (it is never linked); names with a newline are never hashed.
 */
const UNVERIFIED = String.raw`
BEGIN {
  while ((getline line < index_file) > 0) {
    if (++n == 1) continue
    split(line, f, "\t")
    if (f[2] == "f" && index(f[1], "\\") == 0) want[f[1]] = (f[3] + 0) " " f[5]
  }
}
/^mode [0-7]+$/ { mode = substr($0, 6) + 0; next }
{
  sep = substr($0, 65, 4)
  if (sep != "  ./" && sep != " *./") next
  hex = substr($0, 1, 64)
  if (hex !~ /^[0-9a-f]+$/) next
  path = substr($0, 69)
  if ((path in want) && want[path] == mode " " hex) ok[path] = 1
}
END { for (path in want) if (!(path in ok)) print path }
`;

/**
 * Checks `releases/<base>` against its `.release/index` and prints, compressed with the host's
 * own compressor when it has one: the index, a line `<nonce> unverified`, the paths of files
 * that are not as the index says, and `<nonce> end`. Exits 79 when the base or its index is
 * missing: then everything travels.
 */
export function checkBaseScript(
  root: string,
  base: string,
  tools: HostTools & { hash: HashTool },
  nonce: string,
): string {
  const hash = HASH_COMMAND[tools.hash];
  // Names with a newline would make two lines of the tool's output; they are never linked.
  const skip = `\\( -path "$newline" -o -path '*\\\\*' \\) -prune -o -type f`;
  const report = [
    `{`,
    `  cat .release/index`,
    `  printf '%s\\n' ${q(`${nonce} unverified`)}`,
    `  {`,
    `    printf 'mode 644\\n'; find . ${skip} -perm 644 -exec ${hash} {} +`,
    `    printf 'mode 755\\n'; find . ${skip} -perm 755 -exec ${hash} {} +`,
    `  } | LC_ALL=C awk -v index_file=.release/index ${q(UNVERIFIED)}`,
    `  printf '%s\\n' ${q(`${nonce} end`)}`,
    `}`,
  ].join('\n');
  return [
    enter(root),
    `cd ${q(`releases/${base}`)} 2>/dev/null && [ -f .release/index ] || exit ${DELTA_EXIT.missing}`,
    `newline='*`,
    `*'`,
    tools.decompressor ? `${report} | ${COMPRESS[tools.decompressor]}` : report,
    '',
  ].join('\n');
}

export interface BaseCheck {
  /** The base release's index file, as text. */
  index: string;
  /** Paths of the base's files that are not as its index says. */
  unverified: Set<string>;
}

/** Reads checkBaseScript's output, already decompressed; undefined when it was cut short. */
export function parseBaseCheck(output: Buffer, nonce: string): BaseCheck | undefined {
  const text = output.toString('utf8');
  const marker = `${nonce} unverified\n`;
  const end = `${nonce} end\n`;
  const at = text.indexOf(marker);
  if (at < 0 || !text.endsWith(end)) return undefined;
  const list = text.slice(at + marker.length, text.length - end.length);
  return {
    index: text.slice(0, at),
    unverified: new Set(list.split('\n').filter((line) => line !== '')),
  };
}

/**
 * Runs `consumer` on stdin decompressed, failing when either fails: the decompressor's status
 * comes back through fd 3, since POSIX sh has no pipefail.
 */
function decompressed(decompressor: Decompressor | undefined, consumer: string): string {
  if (decompressor === undefined) return `${consumer} || exit 1`;
  return [
    `status=$( { { ${DECOMPRESS[decompressor]}; printf '%s' "$?" >&3; } | { ${consumer}; } >&2 3>&-; } 3>&1 ) || exit 1`,
    `[ "$status" = 0 ] || { printf '%s\\n' 'the compressed stream was damaged or cut short' >&2; exit 1; }`,
  ].join('\n');
}

/**
 * Unpacks the release stream on stdin in `releases/`, into a new `releases/<id>.tmp`: only
 * names under it are extracted, never as the archive's owners. Hard-link entries name files of
 * the base release, `<base>/<path>`, relative to `releases/`.
 */
export function receiveDeltaScript(
  root: string,
  id: string,
  decompressor: Decompressor | undefined,
): string {
  const incoming = q(`${id}.tmp`);
  return [
    'set -u',
    `mkdir -p ${q(root)} && cd ${q(root)} || exit 1`,
    `command -v tar >/dev/null 2>&1 || { printf '%s\\n' 'tar is not installed or not on the PATH' >&2; exit ${DELTA_EXIT.noTar}; }`,
    `mkdir -p releases shared && cd releases || exit 1`,
    `rm -rf ${incoming} && mkdir ${incoming} || exit 1`,
    // The bundle's modes, whatever the deploy user's umask: files of the next release are
    // checked against them before they are linked.
    `umask 022`,
    decompressed(decompressor, `tar -xof - ${incoming}`),
    '',
  ].join('\n');
}

/**
 * Merges lines on stdin (decompressed) into the index below `.release/`: the base's file lines
 * kept as `how` says (the paths listed before the nonce line are the ones kept, or the ones
 * dropped), plus the lines after the nonce line; sorted byte by byte, as the runner sorts them.
 */
const MERGE = String.raw`
BEGIN {
  if (base_file != "") while ((getline line < base_file) > 0) {
    if (++n == 1) continue
    split(line, f, "\t")
    if (f[2] == "f") base[f[1]] = line
  }
}
!after { if ($0 == marker) after = 1; else listed[$0] = 1; next }
{ print }
END { for (path in base) if ((path in listed) == (how == "keep")) print base[path] }
`;

/** What the runner sends writeIndexScript: which base lines to keep, then its own lines. */
export interface IndexUpdate {
  how: 'keep' | 'drop';
  /** Encoded paths of base file lines to keep (or to drop). */
  listed: readonly string[];
  /** Lines the host cannot take from the base index, as file-index.ts writes them. */
  lines: readonly string[];
}

/** The stdin of writeIndexScript for an update; lines end in newlines. */
export function indexUpdateInput(update: IndexUpdate, nonce: string): string {
  return [...update.listed, nonce, ...update.lines].map((line) => `${line}\n`).join('');
}

/**
 * Writes `releases/<id>.tmp/.release/index` from the update on stdin and the base's index (no
 * base: the lines are the whole index), then prints its sha256 so the runner can compare it
 * with the index it computed. `header` is the index's first line.
 */
export function writeIndexScript(options: {
  root: string;
  id: string;
  base: string | undefined;
  how: IndexUpdate['how'];
  header: string;
  nonce: string;
  tools: HostTools;
}): string {
  const { tools } = options;
  const baseIndex = options.base === undefined ? '' : `../${options.base}/.release/index`;
  const merge = `{ printf '%s\\n' ${q(options.header)}; LC_ALL=C awk -v base_file=${q(baseIndex)} -v marker=${q(options.nonce)} -v how=${q(options.how)} ${q(MERGE)} | LC_ALL=C sort; } > .release/index.tmp`;
  return [
    enter(options.root),
    `cd ${q(`releases/${options.id}.tmp`)} || exit ${DELTA_EXIT.missing}`,
    `mkdir -p .release || exit 1`,
    decompressed(tools.decompressor, merge),
    `mv .release/index.tmp .release/index || exit 1`,
    tools.hash ? `${HASH_COMMAND[tools.hash]} .release/index` : '',
    '',
  ].join('\n');
}

/** The hex sha256 writeIndexScript printed, if the host could compute one. */
export function parseIndexDigest(stdout: Buffer): string | undefined {
  const match = /^\\?([0-9a-f]{64})[ *]/m.exec(stdout.toString('utf8'));
  return match?.[1];
}
