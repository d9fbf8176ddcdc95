import { execFileSync, spawnSync } from 'node:child_process';
import {
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  symlink,
  writeFile,
  chmod,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { INDEX_HEADER } from '../../../../shared/bundle/file-index.js';
import { envValueProblem, renderEnvFile } from '../../../../shared/dotenv.js';
import { fullPlan } from '../../../../shared/host/delta-plan.js';
import { uploadStream } from '../../../../shared/host/delta-transfer.js';
import { payloadOf } from '../../../helpers/payload.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandScript } from '../../../../shared/host/scripts/command.js';
import { inspectScript, parseInspect } from '../../../../shared/host/scripts/inspect.js';
import {
  acquireLockScript,
  heartbeatScript,
  lockIsOurs,
  releaseLockScript,
  takeOverLockScript,
} from '../../../../shared/host/scripts/lock.js';
import {
  checkReleaseId,
  pruneScript,
  receiveScript,
  switchScript,
} from '../../../../shared/host/scripts/release.js';
import {
  appendHistoryScript,
  cleanScript,
  deployRoot,
  EXIT,
  inRoot,
  parseSections,
  sharedPath,
} from '../../../../shared/host/scripts/root.js';

/** Runs a script as a transport would: /bin/sh -c, stdin as data. */
function sh(script: string, stdin?: Buffer | string, env?: NodeJS.ProcessEnv) {
  const result = spawnSync('/bin/sh', ['-c', script], {
    input: stdin ?? '',
    env: env ?? process.env,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr.toString() };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'brr-plan-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HOSTILE = [
  `it's`,
  'two words',
  '$(touch MARK)',
  '`touch MARK`',
  'a\nb',
  '"; touch MARK; "',
  '-rf',
  '*',
  "'; touch MARK; '",
  '\\',
];

describe('names checked before any script is built', () => {
  it('normalises deploy roots and refuses ones that are not a directory path', () => {
    expect(deployRoot('/srv/app/')).toBe('/srv/app');
    expect(deployRoot('apps/shop')).toBe('./apps/shop');
    expect(deployRoot('-rf')).toBe('./-rf');
    for (const bad of ['', '/', '.', '~', '/srv/../etc', 'a\nb', 'a\0b']) {
      expect(() => deployRoot(bad), JSON.stringify(bad)).toThrow(/^Input 'path': expected /);
    }
  });

  it('refuses release IDs that are not a safe name, or that end like a leftover', () => {
    expect(checkReleaseId('v12')).toBe('v12');
    for (const bad of ['v1.tmp', '../v1', '$(id)', 'a b', '', '-v1', "v'1"]) {
      expect(() => checkReleaseId(bad), bad).toThrow(/^release ID: expected /);
    }
  });

  it('takes relative shared paths only, never the files a deploy writes', () => {
    expect(sharedPath('tmp/pids/')).toBe('tmp/pids');
    for (const bad of ['/etc', '../x', 'a/../b', '.env', '.release/x', 'a b', '$(id)', '', './a']) {
      expect(sharedPath(bad), bad).toBeUndefined();
    }
  });
});

describe('the scripts on real files', () => {
  async function received(
    root: string,
    id: string,
    files: Record<string, string>,
    sharedPaths: string[] = [],
  ): Promise<void> {
    const tar = execFileSync('sh', [
      '-c',
      `cd "$1" && tar -cf - .`,
      'sh',
      await (async () => {
        const src = await mkdtemp(path.join(dir, 'src-'));
        for (const [name, content] of Object.entries(files)) {
          await mkdir(path.dirname(path.join(src, name)), { recursive: true });
          await writeFile(path.join(src, name), content);
        }
        return src;
      })(),
    ]);
    const payload = await payloadOf(Readable.from([tar]));
    const upload = uploadStream({
      id,
      payload,
      planned: { plan: fullPlan(payload.index), base: undefined },
      tools: { decompressor: undefined, hash: undefined, stamps: false },
      files: [
        { path: '.env', content: Buffer.from('A="1"\n'), mode: 0o600 },
        { path: '.release/release.json', content: Buffer.from('{"build":{}}') },
      ],
    });
    const script = receiveScript(root, {
      id,
      sharedPaths,
      replace: false,
      stamps: false,
      decompressor: undefined,
      relative: upload.relative,
      nonce: upload.nonce,
      index: { base: undefined, how: 'keep', header: INDEX_HEADER },
      indexDigest: undefined,
    });
    const result = sh(script, await buffer(upload.stdin));
    expect(result.code, result.stderr).toBe(0);
  }

  it('receives and installs with shared links in one script, switches and inspects a release', async () => {
    const root = deployRoot(path.join(dir, 'app'));
    const files = { 'index.html': 'one', '.env': 'FROM_BUNDLE=1', 'log/old': 'x' };
    await received(root, 'v1', files, ['log', 'tmp/pids']);
    expect(sh(switchScript(root, 'v1', 'abc')).code).toBe(0);

    expect(await readlink(path.join(root, 'current'))).toBe('releases/v1');
    expect(await readlink(path.join(root, 'releases/v1/log'))).toBe('../../shared/log');
    expect(await readlink(path.join(root, 'releases/v1/tmp/pids'))).toBe(
      '../../../shared/tmp/pids',
    );
    await writeFile(path.join(root, 'releases/v1/tmp/pids/x'), 'through the link');
    expect(await readFile(path.join(root, 'shared/tmp/pids/x'), 'utf8')).toBe('through the link');
    expect(await readFile(path.join(root, 'releases/v1/.env'), 'utf8')).toBe('A="1"\n');
    expect(
      execFileSync('stat', ['-c', '%a', path.join(root, 'releases/v1/.env')], { encoding: 'utf8' }),
    ).toBe('600\n');

    const nonce = 'n0nce';
    const report = sh(inspectScript(root, nonce));
    expect(report.code).toBe(0);
    const snapshot = parseInspect(report.stdout, nonce);
    expect(snapshot).toMatchObject({
      exists: true,
      current: 'v1',
      tar: true,
      leftovers: [],
    });
    expect(snapshot.releases.map((r) => [r.id, r.manifest?.toString()])).toEqual([
      ['v1', '{"build":{}}'],
    ]);
  });

  it('replaces the current link by rename, and keeps the old target when the new one is missing', async () => {
    const root = deployRoot(path.join(dir, 'app'));
    await mkdir(path.join(root, 'releases/v1'), { recursive: true });
    await mkdir(path.join(root, 'releases/v2'), { recursive: true });
    expect(sh(switchScript(root, 'v1', 'a')).code).toBe(0);
    expect(sh(switchScript(root, 'v2', 'b')).code).toBe(0);
    expect(await readlink(path.join(root, 'current'))).toBe('releases/v2');
    // Plain POSIX mv would have moved the new link into releases/v1: nothing there.
    expect(await readdir(path.join(root, 'releases/v1'))).toEqual([]);
    const missing = sh(switchScript(root, 'v3', 'c'));
    expect(missing.code).toBe(EXIT.missing);
    expect(await readlink(path.join(root, 'current'))).toBe('releases/v2');
    expect((await readdir(root)).sort()).toEqual(['current', 'releases']);
  });

  it('refuses to replace a current that is a real directory', async () => {
    const root = deployRoot(path.join(dir, 'app'));
    await mkdir(path.join(root, 'releases/v1'), { recursive: true });
    await mkdir(path.join(root, 'current'));
    const result = sh(switchScript(root, 'v1', 'a'));
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('current is a directory, not a link: move it away first\n');
    expect((await readdir(root)).sort()).toEqual(['current', 'releases']);
  });

  it('switches atomically on a host whose mv has neither -T nor -h, and refuses when nothing can', async () => {
    const root = deployRoot(path.join(dir, 'app'));
    await mkdir(path.join(root, 'releases/v1'), { recursive: true });
    await mkdir(path.join(root, 'releases/v2'), { recursive: true });
    expect(sh(switchScript(root, 'v1', 'a')).code).toBe(0);
    const bin = path.join(dir, 'bin');
    await mkdir(bin);
    const posixMv = path.join(bin, 'mv');
    await writeFile(
      posixMv,
      '#!/bin/sh\ncase "$1" in -T|-h) echo "mv: illegal option -- ${1#-}" >&2; exit 1;; esac\nexec /bin/mv "$@"\n',
    );
    await chmod(posixMv, 0o755);
    for (const tool of ['sh', 'ln', 'rm', 'cat', 'perl'])
      await symlink(`/usr/bin/${tool}`, path.join(bin, tool));
    const env = { PATH: bin };
    expect(sh(switchScript(root, 'v2', 'b'), '', env)).toMatchObject({ code: 0 });
    expect(await readlink(path.join(root, 'current'))).toBe('releases/v2');
    expect(await readdir(path.join(root, 'releases/v1'))).toEqual([]);

    await rm(path.join(bin, 'perl'));
    const refused = sh(switchScript(root, 'v1', 'c'), '', env);
    expect(refused.code).toBe(EXIT.noAtomicRename);
    expect(refused.stderr).toMatch(/cannot replace the current link atomically/);
    expect(await readlink(path.join(root, 'current'))).toBe('releases/v2');
    expect((await readdir(root)).sort()).toEqual(['current', 'releases']);
  });

  it('cleans leftovers of an interrupted deploy and nothing else', async () => {
    const root = deployRoot(path.join(dir, 'app'));
    for (const d of ['releases/v1', 'releases/v2.tmp/x', '.deploy/lock.stale-1']) {
      await mkdir(path.join(root, d), { recursive: true });
    }
    await symlink('releases/v1', path.join(root, 'current.tmp-123'));
    await writeFile(path.join(root, '.deploy/history'), '');
    expect(sh(cleanScript(root)).code).toBe(0);
    expect((await readdir(root)).sort()).toEqual(['.deploy', 'releases']);
    expect(await readdir(path.join(root, 'releases'))).toEqual(['v1']);
    expect(await readdir(path.join(root, '.deploy'))).toEqual(['history']);
  });

  it('takes the lock once, reports its holder to the next, and releases only its own', () => {
    const root = deployRoot(path.join(dir, 'app'));
    const record = { holder: 'alice', pid: 1, machine: 'runner', started: '2024-01-01T00:00:00Z' };
    expect(sh(acquireLockScript(root, record, 'token-a', 'n')).code).toBe(0);
    const second = sh(acquireLockScript(root, { ...record, holder: 'bob' }, 'token-b', 'n'));
    expect(second.code).toBe(EXIT.lockHeld);
    const sections = new Map(
      parseSections(second.stdout, 'n').map((s) => [s.name, s.body.toString().trim()]),
    );
    expect(JSON.parse(sections.get('info') ?? '')).toMatchObject({ holder: 'alice' });
    expect(Number(sections.get('now')) - Number(sections.get('heartbeat'))).toBeLessThan(5);
    expect(sh(releaseLockScript(root, 'token-b')).code).toBe(EXIT.lockLost);
    expect(sh(releaseLockScript(root, 'token-a')).code).toBe(0);
    expect(sh(acquireLockScript(root, record, 'token-b', 'n')).code).toBe(0);
  });

  it('makes a lock whole before anyone sees it: a loser leaves nothing of its own behind', async () => {
    const root = deployRoot(path.join(dir, 'app'));
    const record = { holder: 'alice', pid: 1, machine: 'runner', started: '2024-01-01T00:00:00Z' };
    expect(sh(acquireLockScript(root, record, 'token-a', 'n')).code).toBe(0);
    expect((await readdir(path.join(root, '.deploy/lock'))).sort()).toEqual([
      'heartbeat',
      'info',
      expect.stringMatching(/^owner-[0-9a-f]{32}$/) as unknown as string,
    ]);
    const lost = sh(acquireLockScript(root, { ...record, holder: 'bob' }, 'token-b', 'n'));
    expect(lost.code).toBe(EXIT.lockHeld);
    const owner = new Map(parseSections(lost.stdout, 'n').map((s) => [s.name, s.body.toString()]));
    expect(owner.get('owner')?.trim()).toMatch(/^[0-9a-f]{32}$/);
    expect((await readdir(path.join(root, '.deploy'))).sort()).toEqual(['lock']);
    expect(await readdir(path.join(root, '.deploy/lock'))).toHaveLength(3);
  });

  it('takes over a stale lock once, by renaming its owner: the old holder can change nothing after', async () => {
    const root = deployRoot(path.join(dir, 'app'));
    const record = { holder: 'alice', pid: 1, machine: 'runner', started: '2024-01-01T00:00:00Z' };
    expect(sh(acquireLockScript(root, record, 'dead', 'n')).code).toBe(0);
    const held = sh(acquireLockScript(root, record, 'b', 'n'));
    const owner = new Map(parseSections(held.stdout, 'n').map((s) => [s.name, s.body.toString()]))
      .get('owner')
      ?.trim();
    const takeOver = (token: string) =>
      sh(
        takeOverLockScript(root, {
          record: { ...record, holder: token },
          token,
          owner,
          staleSeconds: 30,
        }),
      );
    // A fresh heartbeat: a live holder is never taken over.
    expect(takeOver('b').code).toBe(EXIT.lockHeld);
    await writeFile(
      path.join(root, '.deploy/lock/heartbeat'),
      `${Math.floor(Date.now() / 1000) - 31}\n`,
    );
    // Two deploys found it stale at once: the first rename wins, the second finds it gone.
    expect(takeOver('b').code).toBe(0);
    expect(takeOver('c').code).toBe(EXIT.lockHeld);
    const ours = (token: string) => sh(inRoot(root, [lockIsOurs(token), 'exit 0'])).code;
    expect([ours('dead'), ours('b'), ours('c')]).toEqual([EXIT.lockLost, 0, EXIT.lockLost]);
    expect(JSON.parse(await readFile(path.join(root, '.deploy/lock/info'), 'utf8'))).toMatchObject({
      holder: 'b',
    });
    const beat = Number(await readFile(path.join(root, '.deploy/lock/heartbeat'), 'utf8'));
    expect(Date.now() / 1000 - beat).toBeLessThan(5);
    // The dead holder's heartbeat, release and switch are refused; the new owner's work.
    expect(sh(heartbeatScript(root, 'dead')).code).toBe(EXIT.lockLost);
    await mkdir(path.join(root, 'releases/v1'), { recursive: true });
    expect(sh(switchScript(root, 'v1', 'x', 'dead')).code).toBe(EXIT.lockLost);
    expect(sh(releaseLockScript(root, 'dead')).code).toBe(EXIT.lockLost);
    expect(sh(heartbeatScript(root, 'b')).code).toBe(0);
    expect(sh(switchScript(root, 'v1', 'x', 'b')).code).toBe(0);
  });

  it('moves a stale lock without an owner aside; a fresh one stays', async () => {
    const root = deployRoot(path.join(dir, 'app'));
    const record = { holder: 'old', pid: 1, machine: 'runner', started: '2024-01-01T00:00:00Z' };
    await mkdir(path.join(root, '.deploy/lock'), { recursive: true });
    const now = Math.floor(Date.now() / 1000);
    await writeFile(path.join(root, '.deploy/lock/heartbeat'), `${now}\n`);
    const move = () =>
      sh(takeOverLockScript(root, { record, token: 't', owner: undefined, staleSeconds: 30 })).code;
    expect(move()).toBe(EXIT.lockHeld);
    expect(await readdir(path.join(root, '.deploy'))).toEqual(['lock']);
    await writeFile(path.join(root, '.deploy/lock/heartbeat'), `${now - 60}\n`);
    expect(move()).toBe(EXIT.lockHeld);
    expect(await readdir(path.join(root, '.deploy'))).toEqual([
      expect.stringMatching(/^lock\.stale-/),
    ]);
    expect(sh(acquireLockScript(root, record, 't', 'n')).code).toBe(0);
  });

  it('releasing the lock removes what an interrupted step left half-made', async () => {
    const root = deployRoot(path.join(dir, 'app'));
    const record = { holder: 'a', pid: 1, machine: 'runner', started: '2024-01-01T00:00:00Z' };
    expect(sh(acquireLockScript(root, record, 'a', 'n')).code).toBe(0);
    await mkdir(path.join(root, 'releases/v1'), { recursive: true });
    await mkdir(path.join(root, 'releases/v2.tmp/x'), { recursive: true });
    await symlink('releases/v1', path.join(root, 'current.tmp-1'));
    expect(sh(releaseLockScript(root, 'a')).code).toBe(0);
    expect((await readdir(root)).sort()).toEqual(['.deploy', 'releases']);
    expect(await readdir(path.join(root, 'releases'))).toEqual(['v1']);
    expect(await readdir(path.join(root, '.deploy'))).toEqual([]);
  });

  it('prunes, but never what current points to', async () => {
    const root = deployRoot(path.join(dir, 'app'));
    for (const id of ['v1', 'v2', 'v3'])
      await mkdir(path.join(root, 'releases', id), { recursive: true });
    await symlink('releases/v2', path.join(root, 'current'));
    expect(sh(pruneScript(root, ['v1', 'v2'], false)).code).toBe(0);
    expect((await readdir(path.join(root, 'releases'))).sort()).toEqual(['v2', 'v3']);
  });

  it('runs commands in the release with its .env exported, stdin closed, output merged', async () => {
    const root = deployRoot(path.join(dir, 'app'));
    await mkdir(path.join(root, 'releases/v1'), { recursive: true });
    await writeFile(
      path.join(root, 'releases/v1/.env'),
      renderEnvFile({ GREETING: `it's $(touch MARK) \`id\`` }),
    );
    const result = sh(
      commandScript(root, 'v1', 'printf "%s|" "$GREETING" "$(pwd)"; echo err >&2; cat'),
      'stdin data',
    );
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe(
      `it's $(touch MARK) \`id\`|${path.join(dir, 'app/releases/v1')}|err\n`,
    );
    expect(await readdir(path.join(root, 'releases/v1'))).toEqual(['.env']);
  });

  it('with a timeout, runs the same way and keeps the exit status of a command that ends in time', async () => {
    const root = deployRoot(path.join(dir, 'app'));
    await mkdir(path.join(root, 'releases/v1'), { recursive: true });
    await writeFile(path.join(root, 'releases/v1/.env'), renderEnvFile({ GREETING: 'hi' }));
    const started = performance.now();
    const result = sh(commandScript(root, 'v1', 'echo "$GREETING"; echo err >&2; exit 3', 17));
    expect(result).toMatchObject({ code: 3, stderr: '' });
    expect(result.stdout.toString()).toBe('hi\nerr\n');
    expect(performance.now() - started).toBeLessThan(2000);
    // Its watchdog went with it: no `sleep 17` is left behind.
    expect(execFileSync('ps', ['-A', '-o', 'args='], { encoding: 'utf8' })).not.toMatch(
      /^sleep 17$/m,
    );
  });

  it('leaves no watchdog behind when started with TERM ignored, as it cannot be trapped then', async () => {
    const root = deployRoot(path.join(dir, 'app'));
    await mkdir(path.join(root, 'releases/v1'), { recursive: true });
    const script = commandScript(root, 'v1', 'exit 4', 19);
    // `trap '' TERM` makes TERM ignored in the shell it execs: a shell cannot undo that.
    const ignored = spawnSync('/bin/sh', [
      '-c',
      `trap '' TERM; exec /bin/sh -c "$1"`,
      'sh',
      script,
    ]);
    expect(ignored.status).toBe(4);
    expect(execFileSync('ps', ['-A', '-o', 'args='], { encoding: 'utf8' })).not.toMatch(
      /^sleep 19$/m,
    );
  });

  it('stops a command that runs past its timeout, with what it started, and says so', async () => {
    const root = deployRoot(path.join(dir, 'app'));
    await mkdir(path.join(root, 'releases/v1'), { recursive: true });
    const pids = path.join(dir, 'pids');
    const command = `echo started; sleep 30 & echo $! > ${pids}; sh -c 'echo $$ >> ${pids}; sleep 40'`;
    const started = performance.now();
    const result = sh(commandScript(root, 'v1', command, 1));
    expect(result.code).toBe(EXIT.timedOut);
    expect(result.stdout.toString()).toMatch(/^started\n/);
    expect(performance.now() - started).toBeLessThan(4000);
    const left = (await readFile(pids, 'utf8')).trim().split('\n').map(Number);
    expect(left).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    for (const pid of left) expect(() => process.kill(pid, 0), `pid ${pid}`).toThrow();
  });

  it('exports exactly the values shared/dotenv.ts writes, in every quoting it uses, running none', async () => {
    const root = deployRoot(path.join(dir, 'app'));
    await mkdir(path.join(root, 'releases/v1'), { recursive: true });
    const value = fc
      .string({
        unit: fc.constantFrom(
          'a',
          ' ',
          "'",
          '"',
          '$',
          '(',
          ')',
          '`',
          '\\',
          '\n',
          '=',
          ';',
          '#',
          'é',
          '{',
        ),
        maxLength: 12,
      })
      .filter((v) => envValueProblem(v) === undefined);
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.stringMatching(/^[A-Z][A-Z0-9_]{0,6}$/), value, {
          minKeys: 1,
          maxKeys: 4,
        }),
        async (env) => {
          await writeFile(path.join(root, 'releases/v1/.env'), renderEnvFile(env));
          const names = Object.keys(env);
          const print = names.map((n) => `printf '%s\\0' "$${n}"`).join('; ');
          const result = sh(commandScript(root, 'v1', print));
          expect(result.stderr).toBe('');
          const seen = result.stdout.toString().split('\0').slice(0, -1);
          expect(Object.fromEntries(names.map((n, i) => [n, seen[i]]))).toEqual(env);
        },
      ),
      { numRuns: 150 },
    );
    const forms = renderEnvFile({ A: 'plain', B: "it's $(id)", C: `say "hi" it's` });
    expect(forms).toBe(`A='plain'\nB="it's $(id)"\nC=say "hi" it's\n`);
    expect(await readdir(path.join(root, 'releases/v1'))).toEqual(['.env']);
  });

  it('keeps every variable part quoted: hostile roots, IDs in data, commands and history lines run nothing', async () => {
    for (const name of HOSTILE) {
      const base = await mkdtemp(path.join(dir, 'case-'));
      // A root is one line: one with a newline is refused before any script is built.
      if (name.includes('\n'))
        expect(() => deployRoot(path.join(base, name))).toThrow(/^Input 'path': expected /);
      const rootName = name.replaceAll('\n', ' ');
      const root = deployRoot(path.join(base, rootName));
      const marker = path.join(base, 'MARK');
      const run = (script: string, stdin?: string) =>
        sh(`cd ${JSON.stringify(base)} && { ${script}\n}`, stdin);
      const record = { holder: name, run: name, pid: 1, machine: name, started: name };
      expect(run(acquireLockScript(root, record, name, 'n')).code, name).toBe(0);
      expect(
        run(
          appendHistoryScript(root, [JSON.stringify({ event: 'activated', release: name }), name]),
        ).code,
      ).toBe(0);
      await mkdir(path.join(root, 'releases/v1'), { recursive: true });
      expect(run(switchScript(root, 'v1', 'x', name)).code, name).toBe(0);
      expect(
        run(
          commandScript(
            root,
            'v1',
            `printf '%s' ${"'"}${name.replaceAll("'", `'\\''`)}${"'"} > out`,
          ),
        ).code,
      ).toBe(0);
      expect(await readFile(path.join(root, 'releases/v1/out'), 'utf8')).toBe(name);
      const history = await readFile(path.join(root, '.deploy/history'), 'utf8');
      expect(history).toBe(`${JSON.stringify({ event: 'activated', release: name })}\n${name}\n`);
      expect(run(releaseLockScript(root, name)).code).toBe(0);
      const report = run(inspectScript(root, 'n'));
      expect(parseInspect(report.stdout, 'n')).toMatchObject({ exists: true, current: 'v1' });
      await expect(readFile(marker)).rejects.toThrow();
      expect(await readdir(base)).toEqual([rootName]);
    }
  });

  it('says a missing root is absent rather than failing', () => {
    const nonce = 'zz';
    const snapshot = parseInspect(
      sh(inspectScript(path.join(dir, 'nothing'), nonce)).stdout,
      nonce,
    );
    expect(snapshot).toMatchObject({ exists: false, releases: [], current: undefined });
  });
});

describe('reading script output', () => {
  it('cannot be fooled by file content that looks like a section', () => {
    const nonce = 'abc123';
    const out = Buffer.from(
      `\n${nonce} release\nv1\n${nonce} manifest\n{"x": "\nfake release\nv9"}\n${nonce} end\n`,
    );
    const sections = parseSections(out, nonce);
    expect(sections.map((s) => s.name)).toEqual(['release', 'manifest', 'end']);
    expect(sections[1]?.body.toString()).toBe('{"x": "\nfake release\nv9"}');
  });

  it('keeps manifest bytes exact, even without a final newline and in any encoding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const nonce = 'f00d';
        const body = Buffer.from(bytes);
        const out = Buffer.concat([
          Buffer.from(`\n${nonce} release\nv1\n${nonce} manifest\n`),
          body,
          Buffer.from(`\n${nonce} end\n`),
        ]);
        const snapshot = parseInspect(out, nonce);
        return snapshot.releases[0]?.manifest?.equals(body) === true;
      }),
    );
  });

  it('refuses a report that was cut short', () => {
    expect(() => parseInspect(Buffer.from('\nn current\nreleases/v1\n'), 'n')).toThrow(/cut short/);
  });
});

describe('property: any root, ID-shaped data and command stay data', () => {
  it('never runs planted command substitutions', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .string({ minLength: 1, maxLength: 30 })
          .filter((s) => !/[\0/\n]/.test(s) && s !== '.' && s !== '..'),
        fc.string({ maxLength: 40 }).filter((s) => !s.includes('\0')),
        async (name, value) => {
          const base = await mkdtemp(path.join(dir, 'p-'));
          const root = deployRoot(path.join(base, `$(touch ${base}/MARK)${name}`));
          const line = JSON.stringify({
            event: 'activated',
            release: `$(touch ${base}/MARK)`,
            reason: value,
          });
          const result = sh(appendHistoryScript(root, [line]));
          expect(result.code).toBe(0);
          expect(await readFile(path.join(root, '.deploy/history'), 'utf8')).toBe(`${line}\n`);
          expect(await readdir(base)).not.toContain('MARK');
        },
      ),
      { numRuns: 60 },
    );
  });
});
