import { fail } from './root.js';

/*
 * The host's tools for what travels and what is kept: the decompressor that reads the streams we
 * send (zstd, else gzip) and keeps each release's index compressed, the hash tool that checks
 * files against an index, and GNU find's -printf for stamps. Found once per host, in the
 * inspection.
 */

export type Decompressor = 'zstd' | 'gzip';
export type HashTool = 'sha256sum' | 'shasum' | 'openssl';

export interface HostTools {
  decompressor: Decompressor | undefined;
  hash: HashTool | undefined;
  /** GNU find's -printf, with inode, times to the nanosecond, mode and link count: stamps. */
  stamps: boolean;
}

export const HASH_COMMAND: Record<HashTool, string> = {
  sha256sum: 'sha256sum',
  shasum: 'shasum -a 256',
  openssl: 'openssl dgst -sha256 -r',
};

export const DECOMPRESS: Record<Decompressor, string> = {
  zstd: 'zstd -q -d -c',
  gzip: 'gzip -d -c',
};
export const COMPRESS: Record<Decompressor, string> = { zstd: 'zstd -q -c', gzip: 'gzip -c' };
export const INDEX_EXTENSION: Record<Decompressor, string> = { zstd: '.zst', gzip: '.gz' };

/**
 * A file's stamp as GNU find prints it: ctime, inode, size, mtime, mode, then the path. The
 * ctime first: what a stamp is matched by is then the rest of its line, one substr in awk.
 */
export const STAMP_FORMAT = '%C@ %i %s %T@ %m';

/** sh lines printing which decompressor, hash tool and find the host has: `tools <d> <h> <f>`. */
export function toolsCommands(): string[] {
  const first = (variable: string, tools: string[]) =>
    [
      `${variable}=none`,
      `for tool in ${tools.join(' ')}; do`,
      `  if command -v "$tool" >/dev/null 2>&1; then ${variable}=$tool; break; fi`,
      `done`,
    ].join('\n');
  return [
    first('d', ['zstd', 'gzip']),
    first('h', Object.keys(HASH_COMMAND)),
    `f=$(find . -maxdepth 0 -printf '${STAMP_FORMAT} %n\\n' 2>/dev/null)`,
    `printf 'tools %s %s %s\\n' "$d" "$h" "$(printf '%s' "$f" | tr ' ' ,)"`,
  ];
}

/** Reads the line toolsCommands printed. */
export function parseHostTools(text: string): HostTools {
  const line = text.split('\n').find((candidate) => candidate.startsWith('tools '));
  const [, decompressor, hash, find] = line?.split(' ') ?? [];
  return {
    decompressor: decompressor === 'zstd' || decompressor === 'gzip' ? decompressor : undefined,
    hash: hash !== undefined && hash in HASH_COMMAND ? (hash as HashTool) : undefined,
    stamps: /^[0-9]+\.[0-9]+,[0-9]+,[0-9]+,[0-9]+\.[0-9]+,[0-7]+,[0-9]+$/.test(find ?? ''),
  };
}

/**
 * sh: `index_text <release directory>` prints a release's index as text, from
 * `.release/index.zst`, `.release/index.gz` or `.release/index`; fails when there is none.
 */
export const INDEX_TEXT = [
  `index_text() {`,
  `  if [ -f "$1/.release/index.zst" ]; then ${DECOMPRESS.zstd} "$1/.release/index.zst"`,
  `  elif [ -f "$1/.release/index.gz" ]; then ${DECOMPRESS.gzip} "$1/.release/index.gz"`,
  `  elif [ -f "$1/.release/index" ]; then cat "$1/.release/index"`,
  `  else return 1; fi`,
  `}`,
].join('\n');

/**
 * Runs `consumer` on stdin decompressed, failing when either fails: the decompressor's status
 * comes back through fd 3, since POSIX sh has no pipefail.
 */
export function decompressed(decompressor: Decompressor | undefined, consumer: string): string {
  if (decompressor === undefined) return `${consumer} || exit 1`;
  return [
    `status=$( { { ${DECOMPRESS[decompressor]}; printf '%s' "$?" >&3; } | { ${consumer}; } >&2 3>&-; } 3>&1 ) || exit 1`,
    `[ "$status" = 0 ] || ${fail(1, 'the compressed stream was damaged or cut short')}`,
  ].join('\n');
}
