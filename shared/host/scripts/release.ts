import { ConfigurationError } from '../../errors.js';
import { releaseId, shellQuote as q } from '../../names.js';
import {
  checkIndexCommands,
  mergeIndexCommands,
  stampCommands,
  stampListCommands,
  stampWriteCommands,
  storeIndexCommands,
  type IndexWrite,
} from './delta.js';
import { decompressed, type Decompressor, type HashTool } from './tools.js';
import { lockIsOurs } from './lock.js';
import { EXIT, READ_CURRENT, fail, inRoot } from './root.js';

/**
 * A release ID safe as a directory name; `.tmp` is kept for releases being received. Checked
 * where an ID enters the host layer, since some come back from a host (what `current` names).
 */
export function checkReleaseId(id: string): string {
  const parsed = releaseId.safeParse(id);
  if (!parsed.success || id.endsWith('.tmp')) {
    throw new ConfigurationError({
      subject: 'release ID',
      expected: "letters, digits, '.', '_' or '-' (like v12), not ending in .tmp",
      got: JSON.stringify(id),
    });
  }
  return id;
}

const release = (id: string) => q(`releases/${id}`);
const incoming = (id: string) => q(`releases/${id}.tmp`);

function linkTarget(sharedPath: string): string {
  const depth = sharedPath.split('/').length;
  return `${'../'.repeat(depth + 1)}shared/${sharedPath}`;
}

export interface InstallOptions {
  id: string;
  /** Directories under `shared/` linked into the release. */
  sharedPaths: readonly string[];
  /** Remove a release of the same ID that holds something else (never current: the deploy checks). */
  replace: boolean;
  /** Whether the host can stamp the release's files (GNU find). */
  stamps: boolean;
}

/**
 * sh lines, run in the deploy root: link the shared paths into the release being received and
 * clear the way for it; then, with stamps, start listing its files. A release replaced is
 * removed before the listing: unlinking its files changes the ctime of those it shares with
 * the new one, and stamps listed before would not match them.
 */
function prepareCommands(options: InstallOptions): string[] {
  const { id } = options;
  const links = options.sharedPaths.flatMap((entry) => {
    const inRelease = q(`releases/${id}.tmp/${entry}`);
    const parent = q(`releases/${id}.tmp/${entry.split('/').slice(0, -1).join('/')}`);
    return [
      `mkdir -p ${q(`shared/${entry}`)} || exit 1`,
      `rm -rf ${inRelease} && mkdir -p ${parent} && ln -s ${q(linkTarget(entry))} ${inRelease} || exit 1`,
    ];
  });
  return [
    `[ -d ${incoming(id)} ] || ${fail(EXIT.missing, `releases/${id}.tmp is missing`)}`,
    ...links,
    ...(options.replace ? [`rm -rf ${release(id)} || exit 1`] : []),
    ...(options.stamps
      ? stampListCommands({ directory: incoming(id), id: q(id), fresh: true })
      : []),
  ];
}

/** sh lines, run in the deploy root after prepareCommands: stamp the release, rename it into place. */
function installCommands(options: InstallOptions): string[] {
  const { id } = options;
  return [
    ...(options.stamps ? stampWriteCommands() : []),
    `mv ${incoming(id)} ${release(id)} || exit 1`,
  ];
}

/** Installs a release received whole but for its index: after the index was written again. */
export function installScript(root: string, options: InstallOptions): string {
  return inRoot(root, [...prepareCommands(options), ...installCommands(options)]);
}

export interface ReceiveOptions extends InstallOptions {
  decompressor: Decompressor | undefined;
  /** The stream's names are relative to the release directory, not under `<id>.tmp/`. */
  relative: boolean;
  /** What the stream's last file holds, and the line the index update is split at. */
  nonce: string;
  /** How the new index is made from the base's, and the base it is made from. */
  index: Omit<IndexWrite, 'nonce'>;
  /** The index's sha256 as the runner computed it, when the host can hash: checked on the host. */
  indexDigest: { hash: HashTool; hex: string } | undefined;
}

/**
 * Makes a release from the stream on stdin, unpacked into a new `releases/<id>.tmp` (in it, or
 * in `releases/` taking only names under it; never as the archive's owners, with the bundle's
 * modes whatever the deploy user's umask): then, if the stream was whole (its last file holds
 * the nonce), its index merged from the base's and checked against the runner's, its shared
 * paths linked, its files stamped, and renamed into place. A stream cut short, even at an
 * entry's end (which tar takes for a whole archive), leaves only `<id>.tmp`; an index that
 * differs exits EXIT.indexDiffers before the install.
 */
export function receiveScript(root: string, options: ReceiveOptions): string {
  const { id, nonce } = options;
  return inRoot(
    root,
    [
      `command -v tar >/dev/null 2>&1 || ${fail(EXIT.noTar, 'tar is not installed or not on the PATH')}`,
      `mkdir -p releases shared .deploy && cd releases || exit 1`,
      `rm -rf ${q(`${id}.tmp`)} && mkdir ${q(`${id}.tmp`)} || exit 1`,
      // The bundle's modes, whatever the deploy user's umask: files of this release are checked
      // against them before they are linked into the next.
      `umask 022`,
      decompressed(
        options.decompressor,
        options.relative ? `tar -xof - -C ${q(`${id}.tmp`)}` : `tar -xof - ${q(`${id}.tmp`)}`,
      ),
      `cd ${q(`${id}.tmp`)} || exit 1`,
      `[ "$(cat .release/complete 2>/dev/null)" = ${q(nonce)} ] || ${fail(EXIT.cutShort, 'the release stream was cut short')}`,
      `rm -f .release/complete`,
      // Its files are all there: the host lists them for the stamps while the index is made.
      `cd ../.. || exit 1`,
      ...prepareCommands(options),
      `cd ${q(`releases/${id}.tmp`)} || exit 1`,
      ...mergeIndexCommands({ ...options.index, nonce }, '.release/index.update'),
      `rm -f .release/index.update`,
      ...(options.indexDigest
        ? checkIndexCommands(options.indexDigest.hash, options.indexDigest.hex)
        : []),
      ...storeIndexCommands(options.decompressor),
      `cd ../.. || exit 1`,
      ...installCommands(options),
    ],
    true,
  );
}

/**
 * Points `current` at a release in one rename(2): a new link, renamed over the old one. `mv -T`
 * is GNU, `mv -h` is BSD; plain POSIX mv would move the link into the directory `current` points
 * to, so without either it falls back to perl's or python's rename, and refuses rather than
 * unlinking first. With `token`, the switch happens only while the lock is ours.
 */
export function switchScript(root: string, id: string, suffix: string, token?: string): string {
  const link = q(`current.tmp-${suffix}`);
  return inRoot(root, [
    ...(token === undefined
      ? []
      : [
          lockIsOurs(
            token,
            fail(EXIT.lockLost, 'the deploy lock is no longer held by this deploy'),
          ),
        ]),
    `[ -d ${release(id)} ] || ${fail(EXIT.missing, `releases/${id} is missing`)}`,
    `rm -f ${link} && ln -s ${release(id)} ${link} || exit 1`,
    `if [ ! -e current ] && [ ! -h current ]; then mv ${link} current && exit 0; rm -f ${link}; exit 1; fi`,
    `if [ -d current ] && [ ! -h current ]; then rm -f ${link}; ${fail(1, 'current is a directory, not a link: move it away first')}; fi`,
    `mv -T ${link} current 2>/dev/null && exit 0`,
    `mv -h ${link} current 2>/dev/null && exit 0`,
    `perl -e 'rename($ARGV[0], $ARGV[1]) or exit 1' ${link} current 2>/dev/null && exit 0`,
    `python3 -c 'import os, sys; os.replace(sys.argv[1], sys.argv[2])' ${link} current 2>/dev/null && exit 0`,
    `rm -f ${link}`,
    fail(
      EXIT.noAtomicRename,
      'cannot replace the current link atomically: the host needs GNU mv (-T), BSD mv (-h), perl or python3',
    ),
  ]);
}

/** Nothing is current: for a first deploy that failed, so nothing broken stays current. */
export function unsetCurrentScript(root: string): string {
  return inRoot(root, [`rm -f current`]);
}

/**
 * Deletes releases; checks on the host too that none is what `current` points to. Deleting
 * unlinks files the releases kept share, which changes their ctimes: with `stamps`, current's
 * stamps are taken again.
 */
export function pruneScript(root: string, ids: readonly string[], stamps: boolean): string {
  const restamp = [
    `id=\${now#releases/}`,
    `if [ "$(head -n 1 .deploy/stamps 2>/dev/null)" = "release $id" ] && [ -d "releases/$id" ]; then`,
    ...stampCommands({ directory: '"releases/$id"', id: '"$id"', fresh: false }),
    `fi`,
  ];
  return inRoot(root, [
    `now=$(${READ_CURRENT})`,
    ...ids.map((id) => `[ "$now" = ${release(id)} ] || rm -rf ${release(id)} || exit 1`),
    ...(stamps ? restamp : []),
  ]);
}
