import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { useGitHub } from '../emulator/vitest.js';
import {
  runAction,
  startAction,
  uniqueName,
  type ActionRun,
  type StartedAction,
} from '../helpers/action.js';
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

/*
 * run-action across several real sshd hosts on this machine. Each host's sessions start in its
 * own root, so one relative `path` names a separate deploy root on each, as on real machines.
 * The hosts share one port space, so the restart here records when it ran instead of starting
 * the sample app.
 */

export const SHA = 'c'.repeat(40);

export interface Fleet {
  repository: string;
  environment: string;
  /** The relative `path`: a deploy root under each host's root. */
  path: string;
  releases: PublishedRelease[];
  log: string;
}

export interface FleetWorld {
  emulator: ReturnType<typeof useGitHub>;
  hosts: () => TestHost[];
  newFleet: (environment?: string, deployPath?: string) => Fleet;
  /** Publishes the fleet's next release, of the sample app or of `bundle`. */
  release: (fleet: Fleet, bundle?: PackedBundle) => Promise<PublishedRelease>;
  deploy: (
    fleet: Fleet,
    on: readonly TestHost[],
    inputs?: Record<string, string | undefined>,
  ) => Promise<ActionRun>;
  /** The same, started: for a test that acts on the hosts while the step runs. */
  start: (
    fleet: Fleet,
    on: readonly TestHost[],
    inputs?: Record<string, string | undefined>,
  ) => Promise<StartedAction>;
}

/**
 * The emulator and `count` sshd hosts for a test file, every host authorising one client key, so
 * one `ssh-key` serves the fleet; stopped after the file's tests.
 */
export function useFleet(count: number): FleetWorld {
  const emulator = useGitHub();
  let hosts: TestHost[] = [];
  let keys: ReleaseKeys;
  let bundle: PackedBundle;
  let scratch: string;

  beforeAll(async () => {
    [hosts, keys] = await Promise.all([
      Promise.all(Array.from({ length: count }, () => startHost({ ownWorkingDirectory: true }))),
      makeKeys(),
    ]);
    bundle = await pack(await appTree(), 'shop', SHA);
    scratch = await mkdtemp(path.join(tmpdir(), 'brr-fleet-'));
    // The deploy user writes the restart log here.
    await chmod(scratch, 0o777);
    const key = (await readFile(path.join(hosts[0]!.dir, 'client_key.pub'), 'utf8')).trim();
    for (const h of hosts.slice(1)) {
      await writeFile(path.join(h.dir, 'authorized_keys'), `${key}\n`, { flag: 'a' });
    }
  });

  afterAll(async () => {
    await Promise.all(hosts.map((h) => endProcessesUnder(h.root)));
    await Promise.all(hosts.map((h) => h.stop()));
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const options = (fleet: Fleet, on: readonly TestHost[], inputs = {}) => ({
    action: 'run-action' as const,
    env: emulator().runnerEnv({ repository: fleet.repository }),
    inputs: {
      environment: fleet.environment,
      app: 'shop',
      hosts: on.map((h) => h.hostLine).join('\n'),
      path: fleet.path,
      'ssh-key': hosts[0]!.privateKey,
      'known-hosts': on.map((h) => h.knownHosts).join(''),
      'allowed-signers': keys.allowedSigners,
      // Start and end of each restart, by host root: the concurrency actually reached.
      restart: `echo "start $(date +%s%N) $(cd ../../.. && pwd)" >> '${fleet.log}'; sleep 1; echo "end $(date +%s%N)" >> '${fleet.log}'`,
      // A host fails its check while a FAIL file sits in its root; FAIL-v2 fails v2 only.
      'health-check':
        'test -f server.mjs && test ! -e ../../../FAIL && test ! -e "../../../FAIL-$(basename "$PWD")"',
      'health-timeout': '1',
      ...inputs,
    },
  });

  return {
    emulator,
    hosts: () => hosts,
    newFleet: (environment = 'production', deployPath = uniqueName('app')) => {
      const repository = `acme/${uniqueName('fleet')}`;
      emulator().createRepository(repository);
      return {
        repository,
        environment,
        path: deployPath,
        releases: [],
        log: path.join(scratch, `${deployPath}.log`),
      };
    },
    release: async (fleet, own) => {
      const id = `v${fleet.releases.length + 1}`;
      const published = await publishRelease(emulator(), {
        repository: fleet.repository,
        app: 'shop',
        environment: fleet.environment,
        keys,
        id,
        sha: SHA,
        bundle: own ?? bundle,
        vars: { GREETING: `hello from ${id}` },
        ...(fleet.releases.length ? { previous: fleet.releases.at(-1)! } : {}),
      });
      fleet.releases.push(published);
      return published;
    },
    deploy: (fleet, on, inputs) => runAction(options(fleet, on, inputs)),
    start: (fleet, on, inputs) => startAction(options(fleet, on, inputs)),
  };
}

export async function currentOn(h: TestHost, fleet: Fleet): Promise<string | undefined> {
  try {
    return path.basename(await readlink(path.join(h.root, fleet.path, 'current')));
  } catch {
    return undefined;
  }
}

/** Every path under a deploy root with its type, mode, size, link target and content digest. */
export function snapshot(root: string): string {
  return execFileSync(
    'sh',
    [
      '-c',
      'cd "$1" && find . -printf "%p %y %m %s %l\\n" | LC_ALL=C sort && find . -type f -exec sha256sum {} + | LC_ALL=C sort',
      'sh',
      root,
    ],
    { encoding: 'utf8' },
  );
}
