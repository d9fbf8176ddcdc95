import { ConfigurationError } from '../../errors.js';
import { releaseId, shellQuote as q } from '../../names.js';
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

/** Unpacks the tar stream on stdin into `releases/<id>.tmp`, never as the archive's owners. */
export function receiveScript(root: string, id: string): string {
  return inRoot(
    root,
    [
      `command -v tar >/dev/null 2>&1 || ${fail(EXIT.noTar, 'tar is not installed or not on the PATH')}`,
      `mkdir -p releases shared || exit 1`,
      `rm -rf ${incoming(id)} && mkdir ${incoming(id)} || exit 1`,
      `cd ${incoming(id)} && tar -xof - || exit 1`,
    ],
    true,
  );
}

/** The bundle's own `.env` or `.release` would be overwritten (or followed, as a link): remove them. */
export function prepareMetadataScript(root: string, id: string): string {
  return inRoot(root, [
    `cd ${incoming(id)} || exit 1`,
    `rm -rf .env .release && mkdir .release || exit 1`,
  ]);
}

export type ReleaseFile = '.env' | '.release/release.json' | '.release/release.json.sig';

/** Writes one file of a release being received from stdin; `.env` with umask 077, so 0600 from the start. */
export function writeReleaseFileScript(root: string, id: string, file: ReleaseFile): string {
  return inRoot(root, [
    `cd ${incoming(id)} || exit 1`,
    `umask ${file === '.env' ? '077' : '022'}`,
    `cat > ${q(file)} || exit 1`,
  ]);
}

function linkTarget(sharedPath: string): string {
  const depth = sharedPath.split('/').length;
  return `${'../'.repeat(depth + 1)}shared/${sharedPath}`;
}

/**
 * Links the shared paths into the release being received and renames it into place. `replace`
 * removes a release of the same ID that holds something else (never current: the deploy checks).
 */
export function installScript(
  root: string,
  id: string,
  sharedPaths: readonly string[],
  replace: boolean,
): string {
  const links = sharedPaths.flatMap((entry) => {
    const inRelease = q(`releases/${id}.tmp/${entry}`);
    const parent = q(`releases/${id}.tmp/${entry.split('/').slice(0, -1).join('/')}`);
    return [
      `mkdir -p ${q(`shared/${entry}`)} || exit 1`,
      `rm -rf ${inRelease} && mkdir -p ${parent} && ln -s ${q(linkTarget(entry))} ${inRelease} || exit 1`,
    ];
  });
  return inRoot(root, [
    `[ -d ${incoming(id)} ] || ${fail(EXIT.missing, `releases/${id}.tmp is missing`)}`,
    ...links,
    ...(replace ? [`rm -rf ${release(id)} || exit 1`] : []),
    `mv ${incoming(id)} ${release(id)} || exit 1`,
  ]);
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

/** Deletes releases; checks on the host too that none is what `current` points to. */
export function pruneScript(root: string, ids: readonly string[]): string {
  return inRoot(root, [
    `now=$(${READ_CURRENT})`,
    ...ids.map((id) => `[ "$now" = ${release(id)} ] || rm -rf ${release(id)} || exit 1`),
  ]);
}
