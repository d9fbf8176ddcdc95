import { ConfigurationError } from '../../errors.js';
import { shellQuote as q } from '../../names.js';

/*
 * The host side of a deploy as POSIX sh scripts, one small pure builder per step (the habit of
 * Kamal's lib/kamal/commands), grouped by what they work on: the deploy root (here), the lock,
 * a release directory, the inspection report and the user's commands. A transport runs them;
 * nothing here touches a host. Every variable part is single-quoted or travels over stdin.
 *
 * Layout under the deploy root:
 *   releases/<id>/            the bundle, .env (0600), .release/{release.json,release.json.sig,index.zst}
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
  indexDiffers: 80,
  cutShort: 81,
  /** A user's command ran past its time and was stopped (as GNU timeout says it). */
  timedOut: 124,
  noTar: 127,
} as const;

/**
 * Checks and normalises the `path` input: a relative root is made `./…` so it never reads as an
 * option. The stage checks it before anything happens; every host session applies it again,
 * since every script starts with `cd` into it.
 */
export function deployRoot(root: string): string {
  const refuse = (expected: string) =>
    new ConfigurationError({ input: 'path', expected, got: JSON.stringify(root) });
  if (root.includes('\0') || root.includes('\n')) {
    throw refuse('a directory path on one line, without NUL bytes');
  }
  const trimmed = root.replace(/\/+$/, '');
  if (trimmed === '' || trimmed === '.' || trimmed === '~') throw refuse('a deploy directory');
  if (trimmed.split('/').includes('..')) throw refuse("a path without '..'");
  return trimmed.startsWith('/') ? trimmed : `./${trimmed}`;
}

/**
 * One line of the `shared-paths` input: relative, no `..`, not one of the files a deploy writes
 * itself. Undefined when it is not one.
 */
export function sharedPath(entry: string): string | undefined {
  const trimmed = entry.replace(/\/+$/, '');
  const parts = trimmed.split('/');
  const ok =
    /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(trimmed) &&
    !parts.some((part) => part === '..' || part === '.') &&
    !['.env', '.release'].includes(parts[0] ?? '');
  return ok ? trimmed : undefined;
}

/** The `shared-paths` input, each line as `sharedPath` takes it: the host layer's own guard. */
export function checkSharedPaths(entries: readonly string[]): string[] {
  return entries.map((entry) => {
    const checked = sharedPath(entry);
    if (checked !== undefined) return checked;
    throw new ConfigurationError({
      input: 'shared-paths',
      expected: 'relative directory paths like log or tmp/pids',
      got: JSON.stringify(entry),
    });
  });
}

/** Every script starts in the deploy root; `set -u` turns a typo into an error, not an empty path. */
export function inRoot(root: string, body: string[], create = false): string {
  const enter = create
    ? `mkdir -p ${q(root)} && cd ${q(root)} || exit 1`
    : `cd ${q(root)} || exit ${EXIT.missing}`;
  return ['set -u', enter, ...body, ''].join('\n');
}

/** Prints a message for the error line and exits with a status the caller tells apart. */
export function fail(status: number, message: string): string {
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

/** Prints what `current` points to. readlink is not in older POSIX; ls -l shows it after ` -> `. */
export const READ_CURRENT = `if [ -h current ]; then readlink current 2>/dev/null || ls -ld current | sed 's/^.* -> //'; fi`;

/** Removes what interrupted deploys left: releases being received, links being made, locks moved aside. */
export function cleanScript(root: string): string {
  return inRoot(root, [
    `rm -rf releases/*.tmp current.tmp-* .deploy/lock.stale-* .deploy/lock.new-* .deploy/*.tmp`,
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
