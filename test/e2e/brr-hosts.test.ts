import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useGitHub } from '../emulator/vitest.js';
import { brr, tempFile, type BrrRun } from '../helpers/brr.js';
import {
  deploy,
  hostArgs,
  newSite,
  release,
  rootOn,
  startAgent,
  startDeploy,
  useLab,
  waitFor,
  withDownHost,
  type HostLab,
  type Site,
} from '../helpers/brr-hosts.js';
import { exists } from '../helpers/files.js';
import type { TestHost } from '../hosts/sshd.js';

/*
 * brr status and unlock against real sshd hosts, deployed to by run-action: what each host runs,
 * its lock (held by a deploy that is running, or left by one that was killed), and how brr fails
 * when a host cannot be reached or shows another key. Neither command needs GitHub.
 */

const emulator = useGitHub();
const useHosts = useLab(2);
let lab: HostLab;
let hosts: TestHost[];

/** No token and a GitHub that is not there: status and unlock must not need it. */
const NO_GITHUB = { GITHUB_TOKEN: undefined, GITHUB_API_URL: 'http://127.0.0.1:9' };

beforeAll(() => {
  lab = useHosts();
  hosts = lab.hosts;
});

function status(site: Site, args: string[] = [], on?: TestHost[]): Promise<BrrRun> {
  return brr(['status', 'production', ...hostArgs(site, on), ...args], { env: NO_GITHUB });
}

function expectOneLine(result: BrrRun, code: number, line: RegExp): void {
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr.trimEnd()).toMatch(line);
  expect(result.code).toBe(code);
}

/** A deploy of `id` whose restart waits for `<root>/GO` on every host: it holds the lock. */
async function holdingDeploy(site: Site, id: string) {
  const restart = `touch ../../waiting; while [ ! -e ../../GO ]; do sleep 0.1; done`;
  for (const h of hosts) {
    for (const file of ['waiting', 'GO'])
      await rm(path.join(rootOn(h, site), file), { force: true });
  }
  const started = await startDeploy(site, hosts, id, { restart, parallel: '2' });
  await waitFor(
    async () =>
      (await Promise.all(hosts.map((h) => exists(path.join(rootOn(h, site), 'waiting'))))).every(
        Boolean,
      ),
    'the deploy to hold the lock on every host',
  );
  const go = async () => {
    await Promise.all(hosts.map((h) => writeFile(path.join(rootOn(h, site), 'GO'), '')));
  };
  return { ...started, go };
}

describe('brr status', () => {
  it("shows each host's current, previous, releases and last events, over SSH only", async () => {
    const site = newSite(emulator(), lab);
    for (let i = 0; i < 3; i++) await release(site);
    await deploy(site, hosts, 'v1');
    await deploy(site, hosts, 'v2');
    await deploy(site, [hosts[0]!], 'v3');

    const result = await status(site, ['--json', '--events', '2']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const report = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      app: 'shop',
      environment: 'production',
      path: `./${site.path}`,
      release: null,
      split: true,
    });
    const [first, second] = report.hosts as Record<string, unknown>[];
    expect(first).toMatchObject({
      host: hosts[0]!.hostLine,
      reached: true,
      exists: true,
      current: 'v3',
      previous: 'v2',
      lock: null,
      leftovers: [],
    });
    expect((first!.releases as { id: string }[]).map((r) => r.id)).toEqual(['v3', 'v2', 'v1']);
    expect(first!.releases).toContainEqual(
      expect.objectContaining({ id: 'v3', status: 'good', digest: lab.bundle.digest }),
    );
    const events = first!.events as { event: string; release: string; by: string }[];
    expect(events.map((e) => `${e.event} ${e.release}`)).toEqual(['activated v3', 'activated v2']);
    expect(events[0]!.by).toMatch(/^octocat \(run \d+\)$/);
    expect(second).toMatchObject({ current: 'v2', previous: 'v1' });

    // What a person at a terminal reads.
    const table = await brr(['status', 'production', ...hostArgs(site)], {
      env: { ...NO_GITHUB, NO_COLOR: '1' },
      tty: true,
    });
    expect(table.code).toBe(0);
    const lines = table.stdout.split(/\r?\n/);
    expect(lines[0]).toMatch(/^HOST +CURRENT +PREVIOUS +RELEASES +LOCK$/);
    expect(lines[1]).toMatch(new RegExp(`^${hosts[0]!.hostLine} +v3 +v2 +v3 v2 v1 +none$`));
    expect(table.stdout).toContain(
      `The fleet is split: v3 on ${hosts[0]!.hostLine}; v2 on ${hosts[1]!.hostLine}.`,
    );
    expect(table.stdout).toMatch(/HOST +TIME +EVENT +RELEASE +FROM +BY/);

    // A mistyped --path: no deploy root there, said as such.
    const args = hostArgs(site);
    args[args.indexOf('--path') + 1] = `${site.path}-typo`;
    const typo = await brr(['status', 'production', ...args], { env: NO_GITHUB });
    expect(typo.code).toBe(0);
    expect(typo.stdout).toBe(
      hosts.map((h) => `${h.hostLine}\tno deploy root at ./${site.path}-typo\n`).join(''),
    );

    // The same fleet brought together: one release everywhere.
    await deploy(site, [hosts[1]!], 'v3');
    const together = JSON.parse((await status(site, ['--json'])).stdout) as Record<string, unknown>;
    expect(together).toMatchObject({ release: 'v3', split: false });
  });

  it('signs in with the ssh-agent when no key is given', async () => {
    const site = newSite(emulator(), lab);
    await release(site);
    await deploy(site, hosts, 'v1');
    const agent = await startAgent(lab.sshKeyFile);
    try {
      const args = hostArgs(site);
      args.splice(args.indexOf('--ssh-key'), 2);
      const result = await brr(['status', 'production', ...args, '--json'], {
        env: { ...NO_GITHUB, SSH_AUTH_SOCK: agent.socket },
      });
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(result.stdout)).toMatchObject({ release: 'v1', split: false });
    } finally {
      agent.stop();
    }
  });
});

describe('brr status and unlock with a deploy lock', () => {
  it('show a live lock and leave it alone; a killed deploy leaves a dead one that unlock clears', async () => {
    const site = newSite(emulator(), lab);
    await release(site);
    await release(site);
    await deploy(site, hosts, 'v1');

    const live = await holdingDeploy(site, 'v2');
    const held = JSON.parse((await status(site, ['--json'])).stdout) as {
      hosts: { lock: Record<string, unknown> | null }[];
    };
    for (const h of held.hosts) {
      expect(h.lock).toMatchObject({ stale: false });
      expect(h.lock?.run).toMatch(/\/actions\/runs\/\d+$/);
      expect(h.lock?.holder).toMatch(/^octocat \(run \d+\) on .+ \(pid \d+\)$/);
    }
    const refused = await brr(['unlock', 'production', ...hostArgs(site)], { env: NO_GITHUB });
    expectOneLine(
      refused,
      1,
      new RegExp(
        `^host ${hosts[0]!.hostLine}: deploy lock held: octocat \\(run \\d+\\) on .* heartbeat \\d+ s ago: its deploy is alive, so the lock stays \\(--force clears it all the same\\); host ${hosts[1]!.hostLine}: `,
      ),
    );
    for (const h of hosts)
      expect(await exists(path.join(rootOn(h, site), '.deploy/lock'))).toBe(true);
    await live.go();
    expect((await live.result).code).toBe(0);

    // A deploy killed while it holds the lock: its heartbeat stops, as ten minutes later.
    const killed = await holdingDeploy(site, 'v1');
    killed.child.kill('SIGKILL');
    await killed.result;
    await killed.go();
    for (const h of hosts) {
      const beat = path.join(rootOn(h, site), '.deploy/lock/heartbeat');
      await writeFile(beat, `${Math.floor(Date.now() / 1000) - 600}\n`);
    }
    const dead = JSON.parse((await status(site, ['--json'])).stdout) as {
      hosts: { lock: Record<string, unknown> | null }[];
    };
    for (const h of dead.hosts) expect(h.lock).toMatchObject({ stale: true });
    const table = await brr(['status', 'production', ...hostArgs(site)], {
      env: { ...NO_GITHUB, NO_COLOR: '1' },
      tty: true,
    });
    expect(table.stdout).toMatch(/dead: octocat \(run \d+\) on .* heartbeat 6\d\d s ago/);

    const cleared = await brr(['unlock', 'production', ...hostArgs(site), '--json'], {
      env: NO_GITHUB,
    });
    expect(cleared).toMatchObject({ code: 0, stderr: '' });
    const unlocked = JSON.parse(cleared.stdout) as { hosts: Record<string, unknown>[] };
    expect(unlocked.hosts.map((h) => h.outcome)).toEqual(['cleared', 'cleared']);
    for (const h of hosts)
      expect(await exists(path.join(rootOn(h, site), '.deploy/lock'))).toBe(false);
    const again = await brr(['unlock', 'production', ...hostArgs(site), '--json'], {
      env: NO_GITHUB,
    });
    expect(JSON.parse(again.stdout)).toMatchObject({
      hosts: [{ outcome: 'none' }, { outcome: 'none' }],
    });
  });

  it('unlock --force clears a live lock', async () => {
    const site = newSite(emulator(), lab);
    await release(site);
    await deploy(site, hosts, 'v1');
    await release(site);
    const live = await holdingDeploy(site, 'v2');
    const forced = await brr(['unlock', 'production', ...hostArgs(site), '--force', '--json'], {
      env: NO_GITHUB,
    });
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({
      hosts: [
        { outcome: 'cleared', lock: { stale: false } },
        { outcome: 'cleared', lock: { stale: false } },
      ],
    });
    for (const h of hosts)
      expect(await exists(path.join(rootOn(h, site), '.deploy/lock'))).toBe(false);
    await live.go();
    await live.result;
  });
});

describe('brr host commands fail with one line', () => {
  it('an unreachable host is one row and exit 1; the other hosts are shown', async () => {
    const site = newSite(emulator(), lab);
    await release(site);
    await deploy(site, hosts, 'v1');
    const { args, down } = await withDownHost(site);
    const result = await brr(['status', 'production', ...args, '--json'], { env: NO_GITHUB });
    expectOneLine(
      result,
      1,
      new RegExp(`^1 of 2 hosts not reached: host ${down}: unreachable \\(ECONNREFUSED\\)$`),
    );
    expect(JSON.parse(result.stdout)).toMatchObject({
      hosts: [
        { host: hosts[0]!.hostLine, reached: true, current: 'v1' },
        { host: down, reached: false, problem: `host ${down}: unreachable (ECONNREFUSED)` },
      ],
    });
  });

  it('a host key that known_hosts does not list for the host: exit 1 or, not listed at all, exit 2', async () => {
    const site = newSite(emulator(), lab);
    const h = hosts[0]!;
    const other = hosts[1]!.knownHosts.split(' ').slice(1).join(' ');
    const wrongKey = await tempFile('known_hosts', `[127.0.0.1]:${h.port} ${other}`);
    const args = hostArgs(site, [h]);
    args[args.indexOf('--known-hosts') + 1] = wrongKey;
    const mismatch = await brr(['status', 'production', ...args], { env: NO_GITHUB });
    expectOneLine(
      mismatch,
      1,
      new RegExp(
        `^host ${h.hostLine}: host key ssh-ed25519 SHA256:\\S+ does not match known-hosts; if the host was rebuilt`,
      ),
    );
    const unlisted = await tempFile('known_hosts', '');
    args[args.indexOf('--known-hosts') + 1] = unlisted;
    const missing = await brr(['unlock', 'production', ...args], { env: NO_GITHUB });
    expect(missing.stdout).toBe('');
    expectOneLine(
      missing,
      2,
      new RegExp(`^host ${h.hostLine}: is not in ${unlisted}; host keys are always checked`),
    );
  });
});
