import type { IndexUpdate } from '../../bundle/file-index.js';
import { shellQuote as q } from '../../names.js';
import { EXIT, fail, inRoot } from './root.js';
import {
  COMPRESS,
  decompressed,
  HASH_COMMAND,
  INDEX_EXTENSION,
  INDEX_TEXT,
  STAMP_FORMAT,
  type Decompressor,
  type HashTool,
  type HostTools,
} from './tools.js';

/*
 * What the host already has, as POSIX sh builders: the tools it offers, the check of its newest
 * release against that release's index (so only what the host lacks travels), the merge of the
 * new release's index from the base's lines and the lines sent, and the stamps that spare the
 * next check from hashing files nothing has touched.
 *
 * The host needs POSIX sh, tar, find, awk and sort; to link files it needs one of sha256sum
 * (GNU coreutils, busybox), shasum (perl, macOS) or openssl; to receive compressed streams,
 * zstd or else gzip. Without a hash tool every file travels; without a decompressor the stream
 * is a plain tar; without GNU find (its -printf) every file of the base is hashed at each check.
 *
 * Stamps. After a release is made (and again after a prune), `.deploy/stamps` records for each
 * of its files the inode, size, mtime, ctime and mode, but only for a file whose bytes are known
 * to be as shipped (just written from the verified stream, or linked from a base file the check
 * passed and whose inode, size, mtime and mode are unchanged since) and whose ctime is older
 * than a marker file made just before the stamps are read. At the next check a file whose five
 * values are still the stamp's is not hashed; any other is. Any change to a file (a write, a
 * truncate, chmod, chown, a link or unlink, a rename over it, which brings another inode) sets
 * its ctime to the time of the change, and no call lets a user set ctime; a change after the
 * stamp was read gets a ctime no earlier than the marker's, later than the stamp's. So a file
 * changed on the host after a deploy is hashed at the next check and travels unless its bytes
 * and mode are still as shipped. What stamps cannot see is a change made during a deploy, after
 * its check, that keeps the inode, size, mode and mtime (bytes rewritten in place and the mtime
 * set back); a check by hashing cannot see a change between the check and the link either.
 * Our own links and unlinks change ctimes too: that is why stamps are taken after the last of
 * them, not carried over.
 */

/**
 * awk: the path after a stamp line's first `fields` fields. Those fields hold no blank, and one
 * space follows each, so the path starts after their lengths: no regular expression, and a path
 * may hold any character but a newline. The passes over every file of a release (SPLIT, STAMP)
 * write such sums out on the fields instead: a function call per line costs them a tenth more.
 */
const AWK_PATH = String.raw`
function path_of(line, fields,   f, at, i) {
  split(line, f, " ")
  at = fields + 1
  for (i = 1; i <= fields; i++) at += length(f[i])
  return substr(line, at)
}
`;

/**
 * Reads the base index's files (those that may be linked: no backslash in the path) and the
 * base's stamps, then its files' stamps now (the listing, on stdin as find writes it). A file
 * whose stamp is unchanged is as shipped: its line goes to `evidence_file`. Any other file the
 * index lists is listed by mode for hashing (0644 and 0755 are the only modes a release's files
 * have; a file with another one is not as shipped) and its line goes to `changed_file`. Last,
 * the index lines of the files not found by their stamps go to `rest_file`: hashed next, or
 * missing. A listing that ends with the line `failed` (find could not list every file) exits 1.
 */
const SPLIT = String.raw`
BEGIN {
  while ((getline line < index_file) > 0) {
    if (++n == 1) continue
    tab = index(line, "\t")
    path = substr(line, 1, tab - 1)
    if (substr(line, tab + 1, 2) == "f\t" && index(path, "\\") == 0) want[path] = line
  }
  if ((getline line < stamps_file) > 0 && line == "release " base)
    while ((getline line < stamps_file) > 0) stamp[line] = 1
}
$0 == "failed" { exit 1 }
{
  path = substr($0, length($1) + length($2) + length($3) + length($4) + length($5) + 6)
  if (!(path in want)) next
  if ($0 in stamp) { print > evidence_file; delete want[path]; next }
  if ($5 == "644" || $5 == "755") { print path > (list $5 ".tmp"); print > changed_file }
}
END { for (path in want) print want[path] > rest_file }
`;

/**
 * Reads `mode <octal>` lines and the hash tool's lines (`<hex>  ./path`, or ` *./path` from
 * openssl), then the index lines of `rest_file` (the index's files not found by their stamps, or
 * the whole index without stamps); prints the plain paths of those files that are not on the
 * host as listed: missing, another kind, another mode or other bytes. A path with a backslash
 * is never compared (it is never linked); names with a newline are never hashed. With
 * `changed_file`, the stamps of the files hashed and found as listed are added to
 * `evidence_file`. After a line `unlisted` (the stamps' listing failed, so what the stamps
 * vouched for is unknown), `rest_file` is the whole index (`index_file`): only a file hashed
 * and found as listed is as shipped.
 */
const UNVERIFIED = String.raw`
${AWK_PATH}
$0 == "unlisted" { rest_file = index_file; changed_file = ""; next }
/^mode [0-7]+$/ { mode = substr($0, 6) + 0; next }
{
  sep = substr($0, 65, 4)
  if (sep != "  ./" && sep != " *./") next
  hex = substr($0, 1, 64)
  if (hex ~ /^[0-9a-f]+$/) hashed[substr($0, 69)] = mode " " hex
}
END {
  while ((getline line < rest_file) > 0) {
    split(line, f, "\t")
    if (f[2] != "f" || index(f[1], "\\") != 0) continue
    if ((f[1] in hashed) && hashed[f[1]] == (f[3] + 0) " " f[5]) ok[f[1]] = 1
    else print f[1]
  }
  if (changed_file != "") while ((getline line < changed_file) > 0)
    if (path_of(line, 5) in ok) print line >> evidence_file
}
`;

/**
 * What a check or stamps never look at, as find's operands: the release's own files, and names
 * with a newline (two lines of a tool's output) or a backslash (never linked). Needs `$newline`.
 */
const SKIP = `\\( -path ./.release -o -path ./.env -o -path "$newline" -o -path '*\\\\*' \\) -prune`;

/** Where the check leaves, for the stamps, what it found as shipped; under the deploy root. */
const EVIDENCE = '.deploy/verified.tmp';

function hashCommands(tools: HostTools & { hash: HashTool }): string[] {
  const hash = HASH_COMMAND[tools.hash];
  const skip = `${SKIP} -o -type f`;
  if (!tools.stamps) {
    return [
      `printf 'mode 644\\n'; find . ${skip} -perm 644 -exec ${hash} {} +`,
      `printf 'mode 755\\n'; find . ${skip} -perm 755 -exec ${hash} {} +`,
    ];
  }
  const hashList = (mode: string) =>
    `printf 'mode ${mode}\\n'; if [ -s "\${list}${mode}.tmp" ]; then sed 's|^|./|' "\${list}${mode}.tmp" | tr '\\n' '\\000' | xargs -0 ${hash}; fi`;
  const split = `LC_ALL=C awk -v index_file="$index" -v stamps_file=../../.deploy/stamps -v base="$base" -v list="$list" -v evidence_file=../../${EVIDENCE} -v changed_file="$changed" -v rest_file="$rest" ${q(SPLIT)}`;
  // The listing is read as find writes it. Should either fail, the stamps vouch for nothing:
  // without that line, the files of a listing cut short would be missing from every list, so
  // not hashed, so never reported.
  return [
    `: > "$changed" && : > "$rest" && { find . ${skip} -printf '${STAMP_FORMAT} %P\\n' || echo failed; } | ${split} || { rm -f ../../${EVIDENCE}; echo unlisted; }`,
    hashList('644'),
    hashList('755'),
  ];
}

/**
 * Checks `releases/<base>` against its index (`index_text`) and prints, compressed with the host's
 * own compressor when it has one: the index, a line `<nonce> unverified`, the paths of files
 * that are not as the index says, and `<nonce> end`. Files whose stamps are unchanged are not
 * hashed; the stamps of the files found as shipped are left for the new release's. Exits 79
 * when the base or its index is missing or unreadable (kept with a tool the host no longer has):
 * then everything travels.
 */
export function checkBaseScript(
  root: string,
  base: string,
  tools: HostTools & { hash: HashTool },
  nonce: string,
): string {
  const unverified = tools.stamps
    ? `-v index_file="$index" -v rest_file="$rest" -v changed_file="$changed" -v evidence_file=../../${EVIDENCE}`
    : `-v rest_file="$index" -v changed_file=`;
  const report = [
    `{`,
    `  cat "$index"`,
    `  printf '%s\\n' ${q(`${nonce} unverified`)}`,
    `  {`,
    ...hashCommands(tools).map((line) => `    ${line}`),
    `  } | LC_ALL=C awk ${unverified} ${q(UNVERIFIED)}`,
    `  printf '%s\\n' ${q(`${nonce} end`)}`,
    `}`,
  ].join('\n');
  return inRoot(root, [
    `rm -f ${EVIDENCE} .deploy/check-*.tmp`,
    INDEX_TEXT,
    `cd ${q(`releases/${base}`)} 2>/dev/null || exit ${EXIT.missing}`,
    `index=../../.deploy/check-index.tmp`,
    `index_text . > "$index" || exit ${EXIT.missing}`,
    `base=${q(base)}`,
    `changed=../../.deploy/check-changed.tmp`,
    `rest=../../.deploy/check-rest.tmp`,
    `list=../../.deploy/check-`,
    `newline='*`,
    `*'`,
    tools.decompressor ? `${report} | ${COMPRESS[tools.decompressor]}` : report,
    // The report's status is the script's; what the check wrote for itself goes, the evidence stays.
    `status=$?`,
    `rm -f ../../.deploy/check-*.tmp`,
    `exit "$status"`,
  ]);
}

/**
 * Stamps the files of a release, keeping those of the evidence: a file whose inode, size,
 * mtime and mode are the evidence's (or, just made from the stream, with no other link) and
 * whose ctime is older than the marker's. Reads the evidence first (the file named `evidence`:
 * the check's lines, or stamps that must name `release`), then the listing (the link count, then
 * a stamp), on stdin as find writes it; a listing that ends with the line `failed` exits 1.
 * Both put the ctime first, so what is matched is the rest of a line. Compares ctimes as text
 * (awk's numbers would round them): as one string when both are written alike (find writes ten
 * decimals), else seconds then nanoseconds.
 */
const STAMP = String.raw`
function older(a, b,   ai, bi, af, bf) {
  if (length(a) == length(b) && index(a, ".") == index(b, ".")) return (a "") < (b "")
  ai = a; sub(/\..*$/, "", ai); bi = b; sub(/\..*$/, "", bi)
  if (ai + 0 != bi + 0) return ai + 0 < bi + 0
  af = index(a, ".") ? substr(a, index(a, ".") + 1) : ""
  bf = index(b, ".") ? substr(b, index(b, ".") + 1) : ""
  while (length(af) < 12) af = af "0"
  while (length(bf) < 12) bf = bf "0"
  return af < bf
}
BEGIN { print "release " release; marker = since ""; dot = index(marker, "."); size = length(marker) }
FILENAME == evidence {
  if (FNR == 1 && !fresh) ignored = ($0 != "release " release)
  if (FNR == 1 && !fresh || ignored) next
  known[substr($0, length($1) + 2)] = 1
  next
}
$0 == "failed" { exit 1 }
NF > 6 {
  ctime = $2 ""
  if (length(ctime) == size && index(ctime, ".") == dot) { if (!(ctime < marker)) next }
  else if (!older(ctime, marker)) next
  if (($1 == 1 && fresh) || (substr($0, length($1) + length(ctime) + 3) in known))
    print substr($0, length($1) + 2)
}
`;

export interface StampOptions {
  /** The release's directory, from the deploy root: an sh word, quoted by the caller. */
  directory: string;
  /** The release's ID: an sh word, quoted by the caller. */
  id: string;
  /**
   * The release was just made: its files with no other link were written from the stream, and
   * the evidence is what the check found. Otherwise the evidence is the stamps themselves, taken
   * again after our own unlinks changed ctimes.
   */
  fresh: boolean;
}

/**
 * sh lines, run in the deploy root, that start stamping the files of a release in the
 * background: the host lists them, and writes `.deploy/stamps.tmp` from the listing as it comes,
 * while it does the rest of the release's work. Run after the last of our links and unlinks of
 * its files; the marker made first is what the stamps' ctimes must be older than. The script
 * does not end before the stamping does, whatever way it ends.
 */
export function stampListCommands(options: StampOptions): string[] {
  const find = `find . ${SKIP} -o -type f -printf '%n ${STAMP_FORMAT} %P\\n'`;
  const awk = `LC_ALL=C awk -v since="$since" -v release=${options.id} -v evidence="$evidence" -v fresh=${options.fresh ? 1 : 0} ${q(STAMP)}`;
  return [
    `newline='*`,
    `*'`,
    `evidence=${options.fresh ? EVIDENCE : '.deploy/stamps'}`,
    `[ -f "$evidence" ] || evidence=/dev/null`,
    `stamping=`,
    `if rm -f releases/stamp.tmp .deploy/stamps.tmp && : > releases/stamp.tmp && since=$(find releases/stamp.tmp -printf '%C@'); then`,
    `  ( { (cd ${options.directory} && ${find}) || echo failed; } | ${awk} "$evidence" - > .deploy/stamps.tmp ) &`,
    `  stamping=$!`,
    `  trap 'wait "$stamping"' EXIT`,
    `fi`,
  ];
}

/**
 * sh lines, run in the deploy root after stampListCommands: once the stamping ends, its stamps
 * are the release's. Stamps are a saving, never a condition: when they cannot be written, there
 * are none.
 */
export function stampWriteCommands(): string[] {
  return [
    `if [ -n "$stamping" ] && wait "$stamping"; then`,
    `  mv .deploy/stamps.tmp .deploy/stamps`,
    `else`,
    `  rm -f .deploy/stamps .deploy/stamps.tmp`,
    `fi`,
    `trap - EXIT`,
    `rm -f releases/stamp.tmp ${EVIDENCE}`,
  ];
}

/** Both halves at once: stamps for a release. */
export function stampCommands(options: StampOptions): string[] {
  return [...stampListCommands(options), ...stampWriteCommands()];
}

/**
 * Merges the lines of an index update into a release's index: the base's file lines kept as
 * `how` says (the paths listed before the nonce line are the ones kept, or the ones dropped),
 * plus the lines after the nonce line; sorted byte by byte, as the runner sorts them. The base
 * index is read once, line by line, after the update: never held whole.
 */
const MERGE = String.raw`
!after { if ($0 == marker) after = 1; else listed[$0] = 1; next }
{ print }
END {
  if (base_file != "") while ((getline line < base_file) > 0) {
    if (++n == 1) continue
    tab = index(line, "\t")
    if (substr(line, tab + 1, 2) == "f\t" && ((substr(line, 1, tab - 1) in listed) == (how == "keep"))) print line
  }
}
`;

export interface IndexWrite {
  /** The base release, relative to `releases/`; none: the update's lines are the whole index. */
  base: string | undefined;
  how: IndexUpdate['how'];
  /** The index's first line. */
  header: string;
  nonce: string;
}

/**
 * sh lines, run in the release directory, that write `.release/index.tmp` (plain text) from the
 * update read from `input` and the base's index.
 */
export function mergeIndexCommands(write: IndexWrite, input: string): string[] {
  if (write.base === undefined) {
    // No base: the update is the nonce line, then every line, sorted already by the runner.
    return [
      `{ printf '%s\\n' ${q(write.header)}; tail -n +2 ${input}; } > .release/index.tmp || exit 1`,
    ];
  }
  const base = '../../.deploy/merge-base.tmp';
  const awk = `LC_ALL=C awk -v base_file=${base} -v marker=${q(write.nonce)} -v how=${q(write.how)} ${q(MERGE)}`;
  return [
    INDEX_TEXT,
    `merged=no`,
    `index_text ${q(`../${write.base}`)} > ${base} &&`,
    `  { printf '%s\\n' ${q(write.header)}; ${awk} ${input} | LC_ALL=C sort; } > .release/index.tmp &&`,
    `  merged=yes`,
    `rm -f ${base}`,
    `[ "$merged" = yes ] || exit 1`,
  ];
}

/** sh lines that fail with EXIT.indexDiffers unless `.release/index.tmp` hashes to `digest`. */
export function checkIndexCommands(hash: HashTool, digest: string): string[] {
  return [
    `set -- $(${HASH_COMMAND[hash]} .release/index.tmp)`,
    `[ "\${1:-}" = ${q(digest)} ] || ${fail(EXIT.indexDiffers, 'the index made on the host differs from the bundle')}`,
  ];
}

/**
 * sh lines that keep `.release/index.tmp` as the release's index, compressed with the host's
 * own tool when it has one (an index is megabytes: a release's largest file but its own).
 */
export function storeIndexCommands(decompressor: Decompressor | undefined): string[] {
  if (decompressor === undefined) return [`mv .release/index.tmp .release/index || exit 1`];
  const file = `.release/index${INDEX_EXTENSION[decompressor]}`;
  return [
    `${COMPRESS[decompressor]} < .release/index.tmp > ${file}.tmp && mv ${file}.tmp ${file} || exit 1`,
    `rm -f .release/index.tmp`,
  ];
}

/**
 * Writes the index of `releases/<id>.tmp` whole from the runner's index on stdin (compressed
 * as the host reads streams): when the index merged on the host differed from the runner's.
 */
export function writeIndexScript(
  root: string,
  id: string,
  tools: Pick<HostTools, 'decompressor'>,
): string {
  return inRoot(root, [
    `cd ${q(`releases/${id}.tmp`)} || exit ${EXIT.missing}`,
    `mkdir -p .release || exit 1`,
    decompressed(tools.decompressor, 'cat > .release/index.tmp'),
    ...storeIndexCommands(tools.decompressor),
  ]);
}
