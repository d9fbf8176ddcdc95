import { ConfigurationError } from '../errors.js';
import { releaseId, shellQuote as q } from '../names.js';

/*
 * The host side of a deploy as POSIX sh scripts, one small pure builder per step (the habit of
 * Kamal's lib/kamal/commands). A transport runs them; nothing here touches a host. Every
 * variable part is single-quoted with shellQuote or travels over stdin.
 *
 * Layout under the deploy root:
 *   releases/<id>/            the bundle, .env (0600), .release/{release.json,release.json.sig}
 *   releases/<id>.tmp/        a release being received; renamed into place when complete
 *   current -> releases/<id>  replaced by rename(2) of a new link: atomic
 *   shared/<dir>              shared paths, linked into each release
 *   .deploy/lock/             the deploy lock: mkdir is atomic; info, token, heartbeat inside
 *   .deploy/history           JSON lines, appended
 */

/** Exit statuses the scripts use to say what went wrong; anything else is the tools' own. */
export const EXIT = {
  lockHeld: 75,
  lockLost: 76,
  noAtomicRename: 77,
  notDeployRoot: 78,
  missing: 79,
  noTar: 127,
} as const;

/** Checks and normalises a deploy root: a relative one is made `./…` so it never reads as an option. */
export function deployRoot(root: string): string {
  if (root.includes('\0') || root.includes('\n')) {
    throw new ConfigurationError('path: expected a directory path on one line, without NUL bytes');
  }
  const trimmed = root.replace(/\/+$/, '');
  if (trimmed === '' || trimmed === '.' || trimmed === '~') {
    throw new ConfigurationError(`path: expected a deploy directory, not ${JSON.stringify(root)}`);
  }
  if (trimmed.split('/').includes('..')) {
    throw new ConfigurationError(`path: expected a path without '..', got ${JSON.stringify(root)}`);
  }
  return trimmed.startsWith('/') ? trimmed : `./${trimmed}`;
}

/** A release ID safe as a directory name; `.tmp` is kept for releases being received. */
export function checkReleaseId(id: string): string {
  const parsed = releaseId.safeParse(id);
  if (!parsed.success || id.endsWith('.tmp')) {
    throw new ConfigurationError(
      `release-id: expected letters, digits, '.', '_' or '-' (like v12), not ending in .tmp, got ${JSON.stringify(id)}`,
    );
  }
  return id;
}

/** A shared path: relative, no `..`, not one of the files a deploy writes itself. */
export function checkSharedPath(entry: string): string {
  const trimmed = entry.replace(/\/+$/, '');
  const parts = trimmed.split('/');
  const ok =
    /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(trimmed) &&
    !parts.some((part) => part === '..' || part === '.') &&
    !['.env', '.release'].includes(parts[0] ?? '');
  if (!ok) {
    throw new ConfigurationError(
      `shared-paths: expected relative directory paths like log or tmp/pids, got ${JSON.stringify(entry)}`,
    );
  }
  return trimmed;
}

const release = (id: string) => q(`releases/${id}`);
const incoming = (id: string) => q(`releases/${id}.tmp`);

/** Every script starts in the deploy root; `set -u` turns a typo into an error, not an empty path. */
function inRoot(root: string, body: string[], create = false): string {
  const enter = create
    ? `mkdir -p ${q(root)} && cd ${q(root)} || exit 1`
    : `cd ${q(root)} || exit ${EXIT.missing}`;
  return ['set -u', enter, ...body, ''].join('\n');
}

function fail(status: number, message: string): string {
  return `{ printf '%s\\n' ${q(message)} >&2; exit ${status}; }`;
}

/**
 * Output of scripts that report several things: sections opened by a line holding a random
 * nonce and a name, so no file content can forge one.
 */
export function section(nonce: string, name: string): string {
  return `printf '\\n%s\\n' ${q(`${nonce} ${name}`)}`;
}

export function parseSections(stdout: Buffer, nonce: string): { name: string; body: Buffer }[] {
  const text = stdout.toString('latin1');
  const marker = `\n${nonce} `;
  const sections: { name: string; body: Buffer }[] = [];
  let at = text.indexOf(marker);
  while (at >= 0) {
    const nameEnd = text.indexOf('\n', at + marker.length);
    if (nameEnd < 0) break;
    const name = text.slice(at + marker.length, nameEnd);
    const next = text.indexOf(marker, nameEnd);
    const body = text.slice(nameEnd + 1, next < 0 ? text.length : next);
    sections.push({ name, body: Buffer.from(body, 'latin1') });
    at = next;
  }
  return sections;
}

export interface LockRecord {
  /** Who deploys: actor, workflow, run. */
  holder: string;
  run?: string;
  pid: number;
  machine: string;
  started: string;
  release?: string;
}

/**
 * Takes the lock: mkdir is atomic, so one deploy wins. The winner writes who it is, a token that
 * proves ownership later, and a heartbeat (the host's clock, in seconds) it keeps fresh. A loser
 * exits with EXIT.lockHeld and prints what the lock says, for the message and the staleness test.
 */
export function acquireLockScript(
  root: string,
  record: LockRecord,
  token: string,
  nonce: string,
): string {
  return inRoot(
    root,
    [
      `mkdir -p .deploy || exit 1`,
      `if mkdir .deploy/lock 2>/dev/null; then`,
      `  printf '%s\\n' ${q(JSON.stringify(record))} > .deploy/lock/info &&`,
      `  printf '%s\\n' ${q(token)} > .deploy/lock/token &&`,
      `  date +%s > .deploy/lock/heartbeat && exit 0`,
      `  rm -rf .deploy/lock; exit 1`,
      `fi`,
      `[ -d .deploy/lock ] || exit 1`,
      section(nonce, 'info'),
      `cat .deploy/lock/info 2>/dev/null`,
      section(nonce, 'token'),
      `cat .deploy/lock/token 2>/dev/null`,
      section(nonce, 'heartbeat'),
      `cat .deploy/lock/heartbeat 2>/dev/null`,
      section(nonce, 'now'),
      `date +%s`,
      `exit ${EXIT.lockHeld}`,
    ],
    true,
  );
}

/** Keeps the lock fresh; fails with EXIT.lockLost when the lock is no longer ours. */
export function heartbeatScript(root: string, token: string): string {
  return inRoot(root, [
    `[ "$(cat .deploy/lock/token 2>/dev/null)" = ${q(token)} ] || exit ${EXIT.lockLost}`,
    `date +%s > .deploy/lock/heartbeat.tmp && mv .deploy/lock/heartbeat.tmp .deploy/lock/heartbeat`,
  ]);
}

/** Releases the lock if it is still ours: a lock broken as stale and retaken stays with its new holder. */
export function releaseLockScript(root: string, token: string): string {
  return inRoot(root, [
    `[ -d .deploy/lock ] || exit 0`,
    `[ "$(cat .deploy/lock/token 2>/dev/null)" = ${q(token)} ] || exit ${EXIT.lockLost}`,
    `rm -rf .deploy/lock`,
  ]);
}

/** Moves a stale lock aside, only if it is still the one judged stale (same token, or none). */
export function breakLockScript(root: string, staleToken: string, suffix: string): string {
  return inRoot(root, [
    `[ "$(cat .deploy/lock/token 2>/dev/null)" = ${q(staleToken)} ] || exit ${EXIT.lockLost}`,
    `mv .deploy/lock ${q(`.deploy/lock.stale-${suffix}`)} && rm -rf ${q(`.deploy/lock.stale-${suffix}`)}`,
  ]);
}

/** readlink is not in older POSIX; ls -l shows the target after ` -> `. */
const READ_CURRENT = `if [ -h current ]; then readlink current 2>/dev/null || ls -ld current | sed 's/^.* -> //'; fi`;

/** Lines of history read back: enough for `previous` and pruning. */
export const HISTORY_TAIL = 1000;

/**
 * Reports the host's state in sections: current target, each release with its manifest, the
 * leftovers of interrupted deploys, the lock, the history tail and whether tar is there.
 */
export function inspectScript(root: string, nonce: string): string {
  return [
    'set -u',
    `cd ${q(root)} 2>/dev/null || { ${section(nonce, 'absent')}; exit 0; }`,
    `if [ -d .deploy ] || [ -d releases ]; then ${section(nonce, 'deploy-root')}; fi`,
    section(nonce, 'current'),
    READ_CURRENT,
    `for d in releases/*; do`,
    `  [ -d "$d" ] && [ ! -h "$d" ] || continue`,
    `  ${section(nonce, 'release')}`,
    `  printf '%s' "\${d#releases/}"`,
    `  if [ -f "$d/.release/release.json" ]; then ${section(nonce, 'manifest')}; cat "$d/.release/release.json"; fi`,
    `done`,
    `if [ -d .deploy/lock ]; then`,
    `  ${section(nonce, 'lock')}`,
    `  cat .deploy/lock/info 2>/dev/null`,
    `  ${section(nonce, 'lock-token')}`,
    `  cat .deploy/lock/token 2>/dev/null`,
    `  ${section(nonce, 'lock-heartbeat')}`,
    `  cat .deploy/lock/heartbeat 2>/dev/null`,
    `fi`,
    section(nonce, 'now'),
    `date +%s`,
    section(nonce, 'history'),
    `tail -n ${HISTORY_TAIL} .deploy/history 2>/dev/null`,
    section(nonce, 'tar'),
    `command -v tar 2>/dev/null`,
    section(nonce, 'end'),
    '',
  ].join('\n');
}

/** Removes what interrupted deploys left: releases being received, links being made, stale locks. */
export function cleanScript(root: string): string {
  return inRoot(root, [`rm -rf releases/*.tmp current.tmp-* .deploy/lock.stale-* .deploy/*.tmp`]);
}

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
 * removes a release of the same ID that holds something else (not current: the engine checks).
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
          `[ "$(cat .deploy/lock/token 2>/dev/null)" = ${q(token)} ] || ${fail(EXIT.lockLost, 'the deploy lock is no longer held by this deploy')}`,
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
 * Reads a `.env` as shared/dotenv.ts writes it and prints one `export NAME='value'` line per
 * variable, quoted for sh. Sourcing the file itself would run what a value holds: its
 * double-quoted and bare forms are literal to systemd and dotenv, not to sh. The forms:
 * 'value' and "value" (may span lines, never hold their own quote), or a bare one-line value.
 */
const ENV_EXPORTS = String.raw`
function shq(s,    out, i) {
  out = ""
  while ((i = index(s, "'")) > 0) { out = out substr(s, 1, i - 1) "'\\''"; s = substr(s, i + 1) }
  return "'" out s "'"
}
function emit() { printf "export %s=%s\n", name, shq(value) }
quote != "" {
  i = index($0, quote)
  if (i == 0) { value = value "\n" $0; next }
  value = value "\n" substr($0, 1, i - 1); emit(); quote = ""; next
}
{
  eq = index($0, "=")
  if (eq == 0) next
  name = substr($0, 1, eq - 1)
  if (name !~ /^[A-Za-z_][A-Za-z0-9_]*$/) next
  rest = substr($0, eq + 1)
  first = substr(rest, 1, 1)
  if (first == "'" || first == "\"") {
    rest = substr(rest, 2)
    i = index(rest, first)
    if (i == 0) { quote = first; value = rest; next }
    value = substr(rest, 1, i - 1); emit(); next
  }
  value = rest; emit()
}
`;

/**
 * Runs a user command (restart, health check, stop) in a release directory with the release's
 * `.env` exported, values never passing through a command line. Output is merged so its tail
 * reads in order; stdin is closed so a command cannot swallow anything.
 */
export function runInReleaseScript(root: string, id: string, command: string): string {
  return inRoot(root, [
    `cd ${release(id)} || ${fail(EXIT.missing, `releases/${id} is missing`)}`,
    `if [ -f .env ]; then exports=$(awk ${q(ENV_EXPORTS)} .env) && eval "$exports" || exit 1; unset exports; fi`,
    `exec /bin/sh -c ${q(command)} < /dev/null 2>&1`,
  ]);
}

export function appendHistoryScript(root: string, lines: readonly string[]): string {
  return inRoot(
    root,
    [
      `mkdir -p .deploy || exit 1`,
      `printf '%s\\n' ${lines.map((line) => q(line)).join(' ')} >> .deploy/history`,
    ],
    true,
  );
}

/** Deletes releases; checks on the host too that none is what `current` points to. */
export function pruneScript(root: string, ids: readonly string[]): string {
  return inRoot(root, [
    `now=$(${READ_CURRENT})`,
    ...ids.map((id) => `[ "$now" = ${release(id)} ] || rm -rf ${release(id)} || exit 1`),
  ]);
}

/** Empties and removes a deploy root; only one that looks like one, so a wrong `path` cannot wipe a directory. */
export function destroyScript(root: string): string {
  return [
    'set -u',
    `[ -e ${q(root)} ] || exit 0`,
    `[ -d ${q(`${root}/.deploy`)} ] || [ -d ${q(`${root}/releases`)} ] || ${fail(EXIT.notDeployRoot, `${root} does not look like a deploy root (no .deploy or releases inside); not removing it`)}`,
    // Everything inside first: the directory itself often sits in one the deploy user cannot
    // write (/srv), and then stays, empty.
    `(cd ${q(root)} && rm -rf ./* ./.[!.]* ./..?*) || exit 1`,
    `rmdir ${q(root)} 2>/dev/null`,
    `exit 0`,
    '',
  ].join('\n');
}

export interface HostSnapshot {
  /** Whether the deploy root exists at all. */
  exists: boolean;
  /** Whether it holds a deploy (.deploy or releases): a directory destroy may remove. */
  deployRoot: boolean;
  /** The release `current` points to, when it points into releases/. */
  current: string | undefined;
  /** The link's own text, for messages when it points elsewhere. */
  currentTarget: string | undefined;
  /** Complete releases (renamed into place), with their manifest bytes when present. */
  releases: { id: string; manifest: Buffer | undefined }[];
  /** Names under releases/ left by interrupted deploys (`*.tmp`). */
  leftovers: string[];
  lock: { info: string; token: string; heartbeat: number | undefined } | undefined;
  /** The host's clock, seconds since the epoch. */
  now: number | undefined;
  history: string;
  tar: boolean;
}

function seconds(text: string): number | undefined {
  const trimmed = text.trim();
  return /^[0-9]+$/.test(trimmed) ? Number(trimmed) : undefined;
}

/** The release ID a `current` link names: `releases/<id>`, relative or under the root. */
export function currentRelease(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  const match = /(?:^|\/)releases\/([^/]+)\/?$/.exec(target);
  return match?.[1];
}

export function parseInspect(stdout: Buffer, nonce: string): HostSnapshot {
  const snapshot: HostSnapshot = {
    exists: true,
    deployRoot: false,
    current: undefined,
    currentTarget: undefined,
    releases: [],
    leftovers: [],
    lock: undefined,
    now: undefined,
    history: '',
    tar: false,
  };
  let ended = false;
  let lastRelease: HostSnapshot['releases'][number] | undefined;
  for (const { name, body } of parseSections(stdout, nonce)) {
    const text = body.toString('utf8');
    switch (name) {
      case 'absent':
        snapshot.exists = false;
        ended = true;
        break;
      case 'deploy-root':
        snapshot.deployRoot = true;
        break;
      case 'current': {
        const target = text.replace(/\n$/, '');
        snapshot.currentTarget = target === '' ? undefined : target;
        snapshot.current = currentRelease(snapshot.currentTarget);
        break;
      }
      case 'release':
        if (text.endsWith('.tmp')) {
          snapshot.leftovers.push(text);
          lastRelease = undefined;
        } else {
          lastRelease = { id: text, manifest: undefined };
          snapshot.releases.push(lastRelease);
        }
        break;
      case 'manifest':
        if (lastRelease) lastRelease.manifest = body;
        break;
      case 'lock':
        snapshot.lock = { info: text.trim(), token: '', heartbeat: undefined };
        break;
      case 'lock-token':
        if (snapshot.lock) snapshot.lock.token = text.trim();
        break;
      case 'lock-heartbeat':
        if (snapshot.lock) snapshot.lock.heartbeat = seconds(text);
        break;
      case 'now':
        snapshot.now = seconds(text);
        break;
      case 'history':
        snapshot.history = text;
        break;
      case 'tar':
        snapshot.tar = text.trim() !== '';
        break;
      case 'end':
        ended = true;
        break;
    }
  }
  if (!ended) throw new Error('the host state report was cut short');
  return snapshot;
}
