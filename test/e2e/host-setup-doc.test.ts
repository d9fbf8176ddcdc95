import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useGitHub } from '../emulator/vitest.js';
import { ROOT, startAction, uniqueName, type ActionRun } from '../helpers/action.js';
import {
  appTree,
  makeKeys,
  pack,
  publishRelease,
  type PackedBundle,
  type PublishedRelease,
  type ReleaseKeys,
} from '../helpers/releases.js';
import { NODE, ask, freePort } from '../hosts/fixtures.js';
import { endProcessesUnder, startHost, type TestHost } from '../hosts/sshd.js';

/*
 * docs/host-setup.md followed as written. Its marked shell blocks run as root on this machine,
 * with the page's names (deploy, shop, /srv, web-2.example.com:2222) swapped for throwaway
 * ones; a real sshd then serves the account the page made, and run-action's built dist deploys
 * to the host the page set up. Only what cannot run here is played by the test: systemd, which
 * the restart command would ask to start the app as its own user.
 */

const exec = promisify(execFile);
const emulator = useGitHub();

/** The blocks of a page marked `<!-- host-setup: <kind> -->`, in page order. */
function markedBlocks(markdown: string): { kind: string; code: string }[] {
  const marked = /<!-- host-setup: ([a-z-]+) -->\n\n```sh\n([\s\S]*?)^```$/gm;
  return [...markdown.matchAll(marked)].map((m) => ({ kind: m[1]!, code: m[2]! }));
}

interface Names {
  deploy: string;
  app: string;
  /** Stands for /srv. */
  srv: string;
  port: number;
}

/** The page's commands with this test's names: users, the /srv tree, the host on port 2222. */
function localize(code: string, names: Names): string {
  return code
    .replace(/\bdeploy\b/g, names.deploy)
    .replace(/\bshop\b/g, names.app)
    .replace(/web-2\.example\.com/g, '127.0.0.1')
    .replace(/\b2222\b/g, String(names.port))
    .replace(/(?<![\w/.-])\/srv\//g, `${names.srv}/`);
}

/** The step's log for a failing assertion, without the values it asks the runner to mask. */
function logOf(run: ActionRun): string {
  return run.log.replace(/^::add-mask::.*$/gm, '::add-mask::***');
}

async function bash(code: string, cwd: string): Promise<string> {
  const { stdout, stderr } = await exec('bash', ['-euo', 'pipefail', '-c', code], { cwd });
  return `${stdout}${stderr}`;
}

async function idOf(user: string, flag: '-u' | '-g'): Promise<number> {
  return Number((await exec('id', [flag, user])).stdout.trim());
}

async function ownerOf(file: string): Promise<{ uid: number; gid: number; mode: number }> {
  const { uid, gid, mode } = await stat(file);
  return { uid, gid, mode };
}

/** The uid a process runs as, from /proc. */
async function uidOfProcess(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

/**
 * systemd's part in examples/systemd/app.service, for a machine without systemd: read
 * EnvironmentFile= as root, then start the app as User=/Group= in WorkingDirectory=. The app's
 * start here is the sample app's bin/restart, which writes its pid and log under shared/.
 */
function serviceStandIn(root: string, app: string): string {
  return [
    `#!${NODE}`,
    `import { spawnSync } from 'node:child_process';`,
    `import { readFileSync } from 'node:fs';`,
    `import { parseEnv } from 'node:util';`,
    `const dir = ${JSON.stringify(`${root}/current`)};`,
    `const env = { PATH: '/usr/bin:/bin', ...parseEnv(readFileSync(dir + '/.env', 'utf8')) };`,
    `const args = ['--reuid', ${JSON.stringify(app)}, '--regid', ${JSON.stringify(app)}, '--init-groups', 'bin/restart'];`,
    `const result = spawnSync('/usr/bin/setpriv', args, { cwd: dir, env, stdio: 'inherit' });`,
    `process.exit(result.status ?? 1);`,
    '',
  ].join('\n');
}

describe('docs/host-setup.md, followed as written on a test host', () => {
  const suffix = randomBytes(3).toString('hex');
  const names: Names = { deploy: `brrd${suffix}`, app: `brrs${suffix}`, srv: '', port: 0 };
  const sudoers = [
    `/etc/sudoers.d/${names.deploy}-${names.app}`,
    `/etc/sudoers.d/${names.deploy}-test`,
  ];
  let blocks: { kind: string; code: string }[];
  let work: string;
  let root: string;
  let host: TestHost | undefined;
  let keys: ReleaseKeys;
  let bundle: PackedBundle;
  let knownHosts: string;
  const repository = `acme/${uniqueName('hostdoc')}`;
  const releases: PublishedRelease[] = [];
  let appPort: number;

  beforeAll(async () => {
    if (process.getuid?.() !== 0)
      throw new Error('this test follows a page of sudo steps: run it as root');
    blocks = markedBlocks(await readFile(path.join(ROOT, 'docs/host-setup.md'), 'utf8'));
    work = await mkdtemp(path.join(tmpdir(), 'brr-hostdoc-'));
    // The users the page makes must reach the deploy root below it.
    await chmod(work, 0o755);
    names.srv = path.join(work, 'srv');
    emulator().createRepository(repository);
    root = `${names.srv}/${names.app}/production`;
    [keys, bundle, appPort] = await Promise.all([
      makeKeys(),
      appTree().then((dir) => pack(dir, 'shop', 'c'.repeat(40))),
      freePort(),
    ]);
    // keys.md's deploy key, made as the page says, on "your machine" (here: `work`).
    const keysPage = await readFile(path.join(ROOT, 'docs/keys.md'), 'utf8');
    const keygen = /^ssh-keygen .* -f deploy_key .*$/m.exec(keysPage)?.[0];
    expect(keygen).toBeDefined();
    await bash(keygen!, work);
  });

  afterAll(async () => {
    await host?.stop();
    if (work) await endProcessesUnder(work);
    for (const user of [names.deploy, names.app]) {
      await exec('userdel', ['--remove', user]).catch(() => undefined);
    }
    await exec('groupdel', [names.app]).catch(() => undefined);
    for (const file of sudoers) await rm(file, { force: true });
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the host steps and their checks pass, in page order', async () => {
    const kinds = blocks.map((block) => block.kind);
    expect(kinds.filter((kind) => kind === 'step')).toHaveLength(4);
    expect(kinds.filter((kind) => kind === 'check')).toHaveLength(3);
    for (const block of blocks.filter((b) => b.kind === 'step' || b.kind === 'check')) {
      const output = await bash(localize(block.code, names), work);
      expect(output, block.code).not.toMatch(/missing:/);
    }
    const [deployUid, appGid] = await Promise.all([
      idOf(names.deploy, '-u'),
      idOf(names.app, '-g'),
    ]);
    expect(await ownerOf(root)).toMatchObject({ uid: deployUid, gid: appGid, mode: 0o40750 });
    // sudo allows the one restart command and nothing next to it.
    const allowed = await bash(
      `sudo -u ${names.deploy} sudo -n -l /usr/bin/systemctl restart ${names.app}`,
      work,
    );
    expect(allowed.trim()).toBe(`/usr/bin/systemctl restart ${names.app}`);
    await expect(
      bash(`sudo -u ${names.deploy} sudo -n -l /usr/bin/systemctl stop ${names.app}`, work),
    ).rejects.toThrow();
  });

  it('ssh-keyscan -p pins the host on its own port; the login check passes with that line', async () => {
    host = await startHost({ user: names.deploy });
    names.port = host.port;
    const scan = blocks.find((block) => block.kind === 'known-hosts')!.code;
    // web-1 is the example host on port 22: there is none here.
    const lines = scan.split('\n').filter((line) => line !== '' && !line.includes('web-1'));
    expect(lines.some((line) => line.includes('-p 2222'))).toBe(true);
    const fingerprints = await bash(localize(lines.join('\n'), names), work);
    knownHosts = await readFile(path.join(work, 'known_hosts'), 'utf8');
    expect(knownHosts).toMatch(
      new RegExp(`^\\[127\\.0\\.0\\.1\\]:${host.port} ssh-ed25519 AAAA`, 'm'),
    );
    const onHost = await exec('ssh-keygen', ['-lf', path.join(host.dir, 'host_key.pub')]);
    expect(/SHA256:\S+/.exec(fingerprints)?.[0]).toBe(/SHA256:\S+/.exec(onHost.stdout)?.[0]);

    const login = blocks.find((block) => block.kind === 'login')!.code;
    const output = await bash(localize(login, names), work);
    const [user, umask] = output.split('\n');
    expect(user).toBe(names.deploy);
    // What the page accepts: either leaves the releases readable to the app's user.
    expect(umask).toMatch(/^00[02]2$/);
  });

  async function publish(id: string): Promise<void> {
    releases.push(
      await publishRelease(emulator(), {
        repository,
        app: 'shop',
        environment: 'production',
        keys,
        id,
        sha: 'c'.repeat(40),
        bundle,
        vars: { PORT: String(appPort), GREETING: `hello from ${id}`, NODE },
        secrets: { API_TOKEN: `token-of-${id}` },
        ...(releases.length > 0 ? { previous: releases.at(-1)! } : {}),
      }),
    );
  }

  /** run-action as the workflow runs it, with the settings keys.md and the page made. */
  async function deploy(inputs: Record<string, string>): Promise<ActionRun> {
    const keysPage = await readFile(path.join(ROOT, 'docs/keys.md'), 'utf8');
    const hostLine = /^deploy@web-2\.example\.com:2222'?$/m.exec(keysPage)?.[0].replace("'", '');
    expect(hostLine).toBeDefined();
    const started = await startAction({
      action: 'run-action',
      env: emulator().runnerEnv({ repository }),
      inputs: {
        environment: 'production',
        app: 'shop',
        hosts: localize(hostLine!, names),
        path: root,
        'ssh-key': await readFile(path.join(work, 'deploy_key'), 'utf8'),
        'known-hosts': knownHosts,
        'allowed-signers': keys.allowedSigners,
        identity: keys.identity,
        restart: `sudo -n ${work}/service-restart`,
        'health-check': 'bin/health',
        'health-timeout': '10',
        ...inputs,
      },
    });
    return started.result;
  }

  it('run-action deploys as the deploy user; the app, as its own user, writes under shared/', async () => {
    // The restart command asks "systemd" through sudo, as the page's rule allows for systemctl.
    await writeFile(path.join(work, 'service-restart'), serviceStandIn(root, names.app), {
      mode: 0o755,
    });
    const rule = path.join(work, 'test-rule');
    await writeFile(rule, `${names.deploy} ALL=(root) NOPASSWD: ${work}/service-restart\n`);
    await exec('visudo', ['-cf', rule]);
    await exec('install', ['-o', 'root', '-g', 'root', '-m', '0440', rule, sudoers[1]!]);

    await publish('v1');
    const first = await deploy({ 'shared-paths': 'run\nlog' });
    expect(first.errors, logOf(first)).toEqual([]);
    expect(first.outputs['release-id']).toBe('v1');
    const [deployUid, appUid, appGid] = await Promise.all([
      idOf(names.deploy, '-u'),
      idOf(names.app, '-u'),
      idOf(names.app, '-g'),
    ]);
    const answer = await ask(appPort);
    expect(answer).toMatchObject({ greeting: 'hello from v1', release: 'v1' });
    expect(await uidOfProcess(answer.pid)).toBe(appUid);
    expect(await ownerOf(path.join(root, 'shared/run/server.pid'))).toMatchObject({ uid: appUid });
    expect(await ownerOf(path.join(root, 'shared/log/server.log'))).toMatchObject({ uid: appUid });
    expect(await ownerOf(path.join(root, 'releases/v1'))).toMatchObject({ uid: deployUid });

    // A shared path no deploy listed before: run-action makes it as the deploy user.
    await expect(stat(path.join(root, 'shared/storage'))).rejects.toThrow();
    await publish('v2');
    const second = await deploy({ 'shared-paths': 'run\nlog\nstorage' });
    expect(second.errors, logOf(second)).toEqual([]);
    expect(second.outputs['release-id']).toBe('v2');
    const storage = await ownerOf(path.join(root, 'shared/storage'));
    expect(storage).toMatchObject({ uid: deployUid, gid: appGid });
    expect(storage.mode & 0o2070).toBe(0o2070);
    expect(await ask(appPort)).toMatchObject({ greeting: 'hello from v2', release: 'v2' });

    const checks = blocks.find((block) => block.kind === 'after-deploy')!.code;
    const output = await bash(localize(checks, names), work);
    expect(output.split('\n')[0]).toBe('releases/v2');
    expect(output.match(/: ok$/gm)).toHaveLength(4);
    await bash(`sudo -u ${names.app} touch ${root}/current/storage/upload`, work);
    expect(await ownerOf(path.join(root, 'shared/storage/upload'))).toMatchObject({
      uid: appUid,
      gid: appGid,
    });
  });

  it('a known_hosts line without the port, as ssh-keyscan without -p names a host, is refused', async () => {
    await publish('v3');
    const unported = knownHosts.replace(/^\[127\.0\.0\.1\]:\d+ /gm, '127.0.0.1 ');
    const refused = await deploy({ 'known-hosts': unported, 'shared-paths': 'run\nlog\nstorage' });
    expect(refused.code).not.toBe(0);
    expect(refused.errors.join('\n')).toContain(
      `not in known-hosts; add a line for [127.0.0.1]:${names.port}`,
    );
    expect(await readlink(path.join(root, 'current'))).toBe('releases/v2');
  });
});
