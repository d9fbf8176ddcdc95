import { chmod, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHistory } from '../../shared/host/history.js';
import { shellQuote } from '../../shared/names.js';
import { useGitHub } from '../emulator/vitest.js';
import { runAction, uniqueName, type ActionRun } from '../helpers/action.js';
import {
  appTree,
  makeKeys,
  pack,
  publishRelease,
  type PackedBundle,
  type PublishedRelease,
  type ReleaseKeys,
} from '../helpers/releases.js';
import { endProcessesUnder, startHost, type TestHost } from '../hosts/sshd.js';
import { exists } from '../helpers/files.js';

/*
 * The release phase on a fleet of three real sshd hosts: the sample app's migration (bin/migrate)
 * as the release command. Each host's sessions start in its own root, so one relative `path`
 * names a deploy root on each. The command records, each time it runs, where it ran and what
 * `current` was on every host at that moment: the proof that it ran once, before any switch.
 */

const emulator = useGitHub();
const SHA = 'e'.repeat(40);

let hosts: TestHost[];
let keys: ReleaseKeys;
/** Bundles of the sample app expecting schema 1, 2, 3. */
let bundles: PackedBundle[];
let scratch: string;

beforeAll(async () => {
  [hosts, keys] = await Promise.all([
    Promise.all([1, 2, 3].map(() => startHost({ ownWorkingDirectory: true }))),
    makeKeys(),
  ]);
  bundles = [];
  for (const schema of ['1', '2', '3']) {
    bundles.push(await pack(await appTree({ 'schema-version': `${schema}\n` }), 'shop', SHA));
  }
  scratch = await mkdtemp(path.join(tmpdir(), 'brr-release-command-'));
  // The deploy user writes the command's record here.
  await chmod(scratch, 0o777);
  // One `ssh-key` for the fleet: every host authorises the first host's client key.
  const key = await readFile(path.join(hosts[0]!.dir, 'client_key.pub'), 'utf8');
  for (const h of hosts.slice(1)) {
    await writeFile(path.join(h.dir, 'authorized_keys'), key, { flag: 'a' });
  }
});

afterAll(async () => {
  await Promise.all((hosts ?? []).map((h) => h.stop()));
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

interface Fleet {
  repository: string;
  /** The relative `path`: a deploy root under each host's root. */
  path: string;
  releases: PublishedRelease[];
  /** One line per run of the release command. */
  runs: string;
}

function newFleet(): Fleet {
  const repository = `acme/${uniqueName('migrate')}`;
  emulator().createRepository(repository);
  const name = uniqueName('app');
  return { repository, path: name, releases: [], runs: path.join(scratch, `${name}.runs`) };
}

/** Publishes the next release, its bundle expecting schema N for release vN. */
async function release(fleet: Fleet): Promise<PublishedRelease> {
  const n = fleet.releases.length + 1;
  const published = await publishRelease(emulator(), {
    repository: fleet.repository,
    app: 'shop',
    environment: 'production',
    keys,
    id: `v${n}`,
    sha: SHA,
    bundle: bundles[n - 1]!,
    vars: { GREETING: `hello from v${n}` },
    ...(fleet.releases.length ? { previous: fleet.releases.at(-1)! } : {}),
  });
  fleet.releases.push(published);
  return published;
}

/** The migration, then a line saying where it ran and what each host's `current` was then. */
function migrateAndRecord(fleet: Fleet): string {
  const roots = hosts.map((h) => shellQuote(path.join(h.root, fleet.path))).join(' ');
  return [
    'bin/migrate',
    'echo "greeting: $GREETING"',
    `{ printf '%s:' "$(pwd -P)"; for r in ${roots}; do printf ' %s' "$(readlink "$r/current" || echo none)"; done; echo; } >> ${shellQuote(fleet.runs)}`,
  ].join(' && ');
}

function deploy(fleet: Fleet, inputs: Record<string, string | undefined> = {}): Promise<ActionRun> {
  return runAction({
    action: 'run-action',
    env: emulator().runnerEnv({ repository: fleet.repository }),
    inputs: {
      environment: 'production',
      app: 'shop',
      hosts: hosts.map((h) => h.hostLine).join('\n'),
      path: fleet.path,
      'ssh-key': hosts[0]!.privateKey,
      'known-hosts': hosts.map((h) => h.knownHosts).join(''),
      'allowed-signers': keys.allowedSigners,
      'shared-paths': 'db',
      'release-command': migrateAndRecord(fleet),
      'health-check': 'test -f server.mjs',
      ...inputs,
    },
  });
}

/** Each run of the release command: the directory it ran in, and every host's `current` then. */
async function runsOf(fleet: Fleet): Promise<{ dir: string; currents: string[] }[]> {
  const text = await readFile(fleet.runs, 'utf8').catch(() => '');
  return text
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [dir = '', rest = ''] = line.split(': ');
      return { dir, currents: rest.split(' ') };
    });
}

async function currentOn(h: TestHost, fleet: Fleet): Promise<string | undefined> {
  return readlink(path.join(h.root, fleet.path, 'current')).catch(() => undefined);
}

async function currents(fleet: Fleet): Promise<(string | undefined)[]> {
  return Promise.all(hosts.map((h) => currentOn(h, fleet)));
}

async function schemaOn(h: TestHost, fleet: Fleet): Promise<string | undefined> {
  const file = path.join(h.root, fleet.path, 'shared/db/schema-version');
  return readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => undefined,
  );
}

async function locked(fleet: Fleet): Promise<boolean[]> {
  return Promise.all(hosts.map((h) => exists(path.join(h.root, fleet.path, '.deploy/lock'))));
}

async function historyOn(h: TestHost, fleet: Fleet) {
  return parseHistory(
    await readFile(path.join(h.root, fleet.path, '.deploy/history'), 'utf8').catch(() => ''),
  );
}

const onV = (n: number) => hosts.map(() => `releases/v${n}`);

describe('release-command on a fleet of three hosts', () => {
  it('runs once, on the first host, in the new release with its .env, before any host switches', async () => {
    const fleet = newFleet();
    await release(fleet);
    expect((await deploy(fleet, { parallel: '3' })).errors).toEqual([]);
    await release(fleet);
    const run = await deploy(fleet, { parallel: '3' });
    expect(run.errors, run.log).toEqual([]);
    expect(await currents(fleet)).toEqual(onV(2));

    const runs = await runsOf(fleet);
    expect(runs).toHaveLength(2);
    const first = path.join(hosts[0]!.root, fleet.path);
    // v1's ran before anything was current; v2's while every host still ran v1.
    expect(runs[0]).toEqual({
      dir: path.join(first, 'releases/v1'),
      currents: ['none', 'none', 'none'],
    });
    expect(runs[1]).toEqual({ dir: path.join(first, 'releases/v2'), currents: onV(1) });
    expect(await schemaOn(hosts[0]!, fleet)).toBe('2');
    expect(await schemaOn(hosts[1]!, fleet)).toBeUndefined();
    expect(await locked(fleet)).toEqual([false, false, false]);

    // Its output in a group of the log; where it ran and its tail in the summary.
    const group = run.log.slice(
      run.log.indexOf(`::group::Release command on ${hosts[0]!.hostLine} in releases/v2: `),
    );
    // Between stop-commands markers: a line of its output is never a workflow command.
    // It shows as it comes, so it may come in more than one fenced piece.
    const fenced = /::stop-commands::([0-9a-f]{32})\n([^]*?)\n::\1::\n/g;
    const body = group.slice(0, group.indexOf('The release command passed'));
    expect(body).toMatch(/^::group::[^\n]*\n(?:::debug::[^\n]*\n)*::stop-commands::/);
    expect([...body.matchAll(fenced)].map((piece) => piece[2]).join('\n')).toBe(
      'schema 1 -> 2\ngreeting: hello from v2',
    );
    // Nothing of it outside the fences (the group's title holds the command itself).
    expect(body.slice(body.indexOf('\n')).replace(fenced, '')).not.toMatch(
      /schema 1 -> 2|greeting:/,
    );
    expect(group.indexOf('::endgroup::')).toBeGreaterThan(group.indexOf('greeting: hello from v2'));
    expect(run.summary).toContain('#### Release command');
    expect(run.summary).toContain(`on \`${hosts[0]!.hostLine}\` in \`releases/v2\` passed in`);
    expect(run.summary).toContain('```text\nschema 1 -> 2\ngreeting: hello from v2\n```');
  });

  it('runs on the host release-command-host names', async () => {
    const fleet = newFleet();
    await release(fleet);
    const run = await deploy(fleet, { 'release-command-host': hosts[1]!.hostLine });
    expect(run.errors, run.log).toEqual([]);
    const runs = await runsOf(fleet);
    expect(runs.map((r) => r.dir)).toEqual([path.join(hosts[1]!.root, fleet.path, 'releases/v1')]);
    expect(await schemaOn(hosts[1]!, fleet)).toBe('1');
    expect(await schemaOn(hosts[0]!, fleet)).toBeUndefined();
  });

  it('when it fails, leaves all three hosts on the old release, unlocked, with the failure in their history', async () => {
    const fleet = newFleet();
    await release(fleet);
    expect((await deploy(fleet)).errors).toEqual([]);
    await release(fleet);
    const failing = `${migrateAndRecord(fleet)} && echo 'migrating users' && echo 'ERROR: column "email" already exists' >&2 && exit 3`;
    const run = await deploy(fleet, { 'release-command': failing, parallel: '2' });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([
      `Deploying v2 failed in the release command, nothing changed: the hosts run v1: host ${hosts[0]!.hostLine}: the release command failed (exit 3) for v2; no host was switched; last output: schema 1 -> 2 greeting: hello from v2 migrating users ERROR: column "email" already exists`,
    ]);
    expect(await currents(fleet)).toEqual(onV(1));
    expect(await locked(fleet)).toEqual([false, false, false]);
    expect((await runsOf(fleet)).map((r) => r.currents)).toEqual([
      ['none', 'none', 'none'],
      onV(1),
    ]);
    for (const h of hosts) {
      // Received, never switched to.
      expect(await exists(path.join(h.root, fleet.path, 'releases/v2/server.mjs'))).toBe(true);
      expect((await historyOn(h, fleet)).map((e) => [e.event, e.release])).toEqual([
        ['activated', 'v1'],
        ['release-command-failed', 'v2'],
      ]);
      expect((await historyOn(h, fleet)).at(-1)?.reason).toBe(
        `release command failed (exit 3) on ${hosts[0]!.hostLine}`,
      );
    }
    expect(run.outputs).toMatchObject({ 'release-id': 'v1', 'rolled-back': 'false' });
    expect(run.summary).toContain(
      'failed in the release command, nothing changed: the hosts run v1',
    );
    expect(run.summary).toContain('not switched: the release command failed');
    expect(run.summary).toContain(
      '```text\nschema 1 -> 2\ngreeting: hello from v2\nmigrating users\nERROR: column "email" already exists\n```',
    );
    const deployment = emulator().state.repository(fleet.repository).deployments.at(-1);
    expect(deployment?.statuses.at(-1)?.state).toBe('failure');

    // `previous` on these hosts is still the release before v1: v2 never became current.
    const back = await deploy(fleet, { 'release-id': 'previous' });
    expect(back.errors[0]).toMatch(
      /^Input 'release-id': previous: .* has no good release before v1/,
    );
    // Fixed, the same release goes out: its command runs again, then every host switches.
    const fixed = await deploy(fleet);
    expect(fixed.errors, fixed.log).toEqual([]);
    expect(await currents(fleet)).toEqual(onV(2));
    expect(await runsOf(fleet)).toHaveLength(3);
  });

  it('stops one that runs past release-command-timeout, and switches nothing', async () => {
    const fleet = newFleet();
    await release(fleet);
    expect((await deploy(fleet)).errors).toEqual([]);
    await release(fleet);
    const started = Date.now();
    const run = await deploy(fleet, {
      'release-command': 'echo "waiting for a lock on users"; sleep 60',
      'release-command-timeout': '2',
    });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(run.errors).toHaveLength(1);
    // The shell running it may say its child was stopped (dash: "Terminated").
    expect(run.errors[0]).toMatch(
      new RegExp(
        `^Deploying v2 failed in the release command, nothing changed: the hosts run v1: host ${hosts[0]!.hostLine}: the release command did not finish within 2 s for v2; no host was switched; last output: waiting for a lock on users( Terminated)?$`,
      ),
    );
    expect(await currents(fleet)).toEqual(onV(1));
    expect(await locked(fleet)).toEqual([false, false, false]);
    // The host stopped it: nothing it started is left running (the deploy user's processes).
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await endProcessesUnder(path.join(hosts[0]!.root, fleet.path))).toEqual([]);
  });

  it('does not run on a rollback unless asked; a dry run shows it and runs nothing', async () => {
    const fleet = newFleet();
    await release(fleet);
    await release(fleet);
    expect((await deploy(fleet, { 'release-id': 'v1' })).errors).toEqual([]);
    expect((await deploy(fleet, { 'release-id': 'v2' })).errors).toEqual([]);
    expect(await runsOf(fleet)).toHaveLength(2);

    const back = await deploy(fleet, { 'release-id': 'previous' });
    expect(back.errors, back.log).toEqual([]);
    expect(await currents(fleet)).toEqual(onV(1));
    expect(await runsOf(fleet)).toHaveLength(2);
    expect(back.summary).toContain('Not run: v1 was current before on');
    // An explicit ID that was current before is a return too.
    expect((await deploy(fleet, { 'release-id': 'v2' })).errors).toEqual([]);
    expect(await runsOf(fleet)).toHaveLength(2);
    expect(await schemaOn(hosts[0]!, fleet)).toBe('2');

    await release(fleet);
    const dry = await deploy(fleet, { 'dry-run': 'true' });
    expect(dry.errors).toEqual([]);
    const command = migrateAndRecord(fleet);
    expect(dry.log).toContain(
      `release command: would run ${JSON.stringify(command)} on ${hosts[0]!.hostLine} in releases/v3`,
    );
    expect(dry.summary).toContain(
      `Would run \`${command}\` on \`${hosts[0]!.hostLine}\` in \`releases/v3\``,
    );
    expect(await runsOf(fleet)).toHaveLength(2);
    expect(await currents(fleet)).toEqual(onV(2));

    const forced = await deploy(fleet, {
      'release-id': 'previous',
      'release-command-on-rollback': 'true',
    });
    expect(forced.errors, forced.log).toEqual([]);
    expect(await currents(fleet)).toEqual(onV(1));
    const runs = await runsOf(fleet);
    expect(runs).toHaveLength(3);
    expect(runs[2]).toEqual({
      dir: path.join(hosts[0]!.root, fleet.path, 'releases/v1'),
      currents: onV(2),
    });
    expect(await schemaOn(hosts[0]!, fleet)).toBe('1');
  });
});
