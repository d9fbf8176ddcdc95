import { chmod, link, mkdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  checkBaseScript,
  stampCommands,
  stampListCommands,
} from '../../../../shared/host/scripts/delta.js';
import { shellQuote as q } from '../../../../shared/names.js';
import { payloadOf } from '../../../helpers/payload.js';
import { tempDir, type TreeSpec } from '../bundle-helpers.js';
import { bundleOf, parseBaseCheck, sh, serializeIndex, transfer } from './delta-helpers.js';

/*
 * The stamps that spare a check from hashing files nothing has touched, run in real sh on real
 * files. Each test lets the files' ctimes age past a clock tick before stamping, as the files of
 * a real release have by the time its unpack ends; a file touched in the tick of the stamping
 * is left unstamped and hashed next time.
 */

const app: TreeSpec = {
  'app.js': 'console.log("v1")\n',
  'bin/start': { content: '#!/bin/sh\nexec node app.js\n', mode: 0o755 },
  'lib/util.js': 'export const answer = 42;\n',
  'lib/other.js': 'export const other = 1;\n',
};

/** A host with `releases/v1` made from a bundle of `app`, its index, and a hash tool that logs. */
async function hostWith(spec: TreeSpec) {
  const dir = await tempDir();
  const root = path.join(dir, 'deploy');
  const release = path.join(root, 'releases/v1');
  const bundle = await bundleOf(spec);
  await mkdir(path.join(root, '.deploy'), { recursive: true });
  await mkdir(release, { recursive: true });
  sh(`zstd -q -d -c ${q(bundle)} | tar -xf - -C ${q(release)}`);
  const payload = await payloadOf(bundle, 'zstd');
  await mkdir(path.join(release, '.release'));
  await writeFile(path.join(release, '.release/index'), serializeIndex(payload.index));
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  const log = path.join(dir, 'hashed');
  await writeFile(
    path.join(bin, 'sha256sum'),
    `#!/bin/sh\nfor f; do printf '%s\\n' "$f" >> ${q(log)}; done\nexec /usr/bin/sha256sum "$@"\n`,
    { mode: 0o755 },
  );
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
  return { root, release, log, env };
}

type Host = Awaited<ReturnType<typeof hostWith>>;

/** Stamps a release once its files' ctimes are a few clock ticks old. */
async function stamp(host: Host, directory: string, id: string, fresh: boolean): Promise<void> {
  await sleep(50);
  const script = [
    'set -u',
    `cd ${q(host.root)} || exit 1`,
    ...stampCommands({ directory: q(directory), id: q(id), fresh }),
  ];
  const result = sh(script.join('\n'), '', host.env);
  expect(result.code, result.stderr).toBe(0);
}

/** Checks `base` as a deploy does: which files it hashed, and which it found not as shipped. */
async function check(host: Host, base = 'v1') {
  await rm(host.log, { force: true });
  const tools = { decompressor: undefined, hash: 'sha256sum' as const, stamps: true };
  const output = sh(checkBaseScript(host.root, base, tools, 'n0nce'), '', host.env);
  const report = parseBaseCheck(output.stdout, 'n0nce');
  const hashed = await readFile(host.log, 'utf8').then(
    (text) =>
      text
        .split('\n')
        .filter(Boolean)
        .map((line) => line.replace(/^\.\//, ''))
        .sort(),
    () => [],
  );
  return { hashed, unverified: [...(report?.unverified ?? [])].sort() };
}

const stampsOf = async (root: string) =>
  (await readFile(path.join(root, '.deploy/stamps'), 'utf8')).split('\n').filter(Boolean);

describe('stamps', () => {
  it('spare the check from hashing files nothing touched since', async () => {
    const host = await hostWith(app);
    expect(await check(host)).toEqual({
      hashed: ['app.js', 'bin/start', 'lib/other.js', 'lib/util.js'],
      unverified: [],
    });
    await stamp(host, 'releases/v1', 'v1', true);
    const stamps = await stampsOf(host.root);
    expect(stamps[0]).toBe('release v1');
    expect(
      stamps
        .slice(1)
        .map((line) => line.split(' ').at(-1))
        .sort(),
    ).toEqual(['app.js', 'bin/start', 'lib/other.js', 'lib/util.js']);
    expect(await check(host)).toEqual({ hashed: [], unverified: [] });
    // Stamps of another release are not this one's.
    expect((await check(host, 'v1')).hashed).toEqual([]);
    await writeFile(
      path.join(host.root, '.deploy/stamps'),
      stamps.join('\n').replace('release v1', 'release v0'),
    );
    expect((await check(host)).hashed).toHaveLength(4);
  });

  it('leave the files the index does not list unhashed: nothing of theirs can be linked', async () => {
    const host = await hostWith(app);
    await stamp(host, 'releases/v1', 'v1', true);
    await mkdir(path.join(host.release, 'log'));
    await writeFile(path.join(host.release, 'log/app.log'), 'started\n');
    await writeFile(path.join(host.release, 'lib/util.js.orig'), 'export const answer = 41;\n');
    expect(await check(host)).toEqual({ hashed: [], unverified: [] });
  });

  it('are taken in the background, and the script ends only once they are, however it ends', async () => {
    const host = await hostWith(app);
    // Enough files that stamping them takes longer than the rest of the script.
    sh(
      `mkdir -p ${q(path.join(host.release, 'many'))} && cd ${q(path.join(host.release, 'many'))} && seq 1 30000 | xargs touch`,
    );
    await sleep(50);
    // Output elsewhere: what a caller waits for is the shell's exit, not its output's end.
    const script = [
      'set -u',
      'exec >/dev/null 2>&1',
      `cd ${q(host.root)} || exit 1`,
      ...stampListCommands({ directory: q('releases/v1'), id: 'v1', fresh: true }),
      'exit 3',
    ];
    const result = sh(script.join('\n'), '', host.env);
    expect(result.code).toBe(3);
    const stamps = await readFile(path.join(host.root, '.deploy/stamps.tmp'), 'utf8');
    expect(stamps.split('\n').filter((line) => / many\/[0-9]+$/.test(line))).toHaveLength(30000);
  });

  it('see an edit that keeps the size and sets the mtime back, and a mode changed and changed back', async () => {
    const host = await hostWith(app);
    await stamp(host, 'releases/v1', 'v1', true);
    const edited = path.join(host.release, 'lib/util.js');
    const before = await stat(edited);
    await writeFile(edited, 'export const answer = 41;\n');
    await utimes(edited, before.atime, before.mtime);
    const after = await stat(edited);
    expect([after.size, after.mtimeMs, after.ino]).toEqual([
      before.size,
      before.mtimeMs,
      before.ino,
    ]);
    await chmod(path.join(host.release, 'app.js'), 0o600);
    await chmod(path.join(host.release, 'app.js'), 0o644);

    expect(await check(host)).toEqual({
      hashed: ['app.js', 'lib/util.js'],
      unverified: ['lib/util.js'],
    });
  });

  it('vouch for nothing when the listing fails, and none are taken from a listing that failed', async () => {
    const host = await hostWith(app);
    await stamp(host, 'releases/v1', 'v1', true);
    await writeFile(path.join(host.release, 'lib/util.js'), 'export const answer = 41;\n');
    // A find that cannot read one directory (as one the deploy user may not list): the edited
    // file is missing from its listing, and it fails.
    const bin = host.env.PATH?.split(':')[0] ?? '';
    await writeFile(
      path.join(bin, 'find'),
      `#!/bin/sh\n/usr/bin/find "$@" | grep -v ' lib/'\nexit 1\n`,
      { mode: 0o755 },
    );
    // Every file is hashed or reported: none is linked on the stamps' word.
    expect(await check(host)).toEqual({
      hashed: [],
      unverified: ['app.js', 'bin/start', 'lib/other.js', 'lib/util.js'],
    });
    await expect(stat(path.join(host.root, '.deploy/verified.tmp'))).rejects.toThrow();
    await stamp(host, 'releases/v1', 'v1', true);
    await expect(stat(path.join(host.root, '.deploy/stamps'))).rejects.toThrow();
  });

  it('see a file replaced by another one (a new inode) with the same bytes', async () => {
    const host = await hostWith(app);
    await stamp(host, 'releases/v1', 'v1', true);
    const file = path.join(host.release, 'lib/other.js');
    const bytes = await readFile(file);
    await rm(file);
    await writeFile(file, bytes);
    await chmod(file, 0o644);
    expect(await check(host)).toEqual({ hashed: ['lib/other.js'], unverified: [] });
  });

  it('of a new release keep linked files only as the check found them, and are taken again after a prune', async () => {
    const host = await hostWith(app);
    const next = path.join(host.root, 'releases/v2.tmp');
    await mkdir(path.join(next, 'lib'), { recursive: true });
    await link(path.join(host.release, 'lib/util.js'), path.join(next, 'lib/util.js'));
    await link(path.join(host.release, 'lib/other.js'), path.join(next, 'lib/other.js'));
    await writeFile(path.join(next, 'app.js'), 'console.log("v2")\n');
    // The check left what it found as shipped; one linked file was touched since.
    await check(host);
    expect(await readFile(path.join(host.root, '.deploy/verified.tmp'), 'utf8')).toContain(
      'lib/other.js',
    );
    await utimes(path.join(host.release, 'lib/other.js'), 1, 1);
    await stamp(host, 'releases/v2.tmp', 'v2', true);
    const stamped = (await stampsOf(host.root)).map((line) => line.split(' ').at(-1));
    expect(stamped).toEqual(['v2', 'app.js', 'lib/util.js']);

    // Unlinking v1's names changes the ctimes of v2's linked files: taken again, not carried.
    sh(`mv ${q(next)} ${q(path.join(host.root, 'releases/v2'))}`);
    await rm(host.release, { recursive: true });
    const before = await stampsOf(host.root);
    await stamp(host, 'releases/v2', 'v2', false);
    const after = await stampsOf(host.root);
    expect(after.map((line) => line.split(' ').at(-1))).toEqual(['v2', 'app.js', 'lib/util.js']);
    const ctime = (lines: string[], name: string) =>
      lines.find((line) => line.endsWith(` ${name}`))?.split(' ')[0];
    expect(ctime(after, 'lib/util.js')).not.toBe(ctime(before, 'lib/util.js'));
    expect(ctime(after, 'app.js')).toBe(ctime(before, 'app.js'));
  });

  it('of a release replaced by another of the same ID are taken once the old one is gone', async () => {
    const host = await hostWith(app);
    const { root, env } = host;
    // v1 as a deploy makes it, stamped; then v2 from it.
    await transfer({ root, id: 'v1', bundle: await bundleOf(app), env, replace: true });
    await sleep(50);
    await transfer({ root, id: 'v2', bundle: await bundleOf(app), base: 'v1', env });
    // An rm that takes its time: removing the old v2 changes the ctimes of the files the new
    // one shares with it, well after they were linked.
    const bin = env.PATH?.split(':')[0] ?? '';
    await writeFile(path.join(bin, 'rm'), '#!/bin/sh\nsleep 0.2\nexec /bin/rm "$@"\n', {
      mode: 0o755,
    });
    const again = await bundleOf({ ...app, 'app.js': 'console.log("v2 again")\n' });
    await transfer({ root, id: 'v2', bundle: again, base: 'v1', env, replace: true });
    await rm(path.join(bin, 'rm'));
    await sleep(50);

    expect(await check(host, 'v2')).toEqual({ hashed: [], unverified: [] });
  });
});
