import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { parseHistory, type HistoryEvent } from '../../shared/host/history.js';
import type { GitHubEmulator } from '../emulator/index.js';
import { freePort } from '../hosts/fixtures.js';
import { startHost, type TestHost } from '../hosts/sshd.js';
import { startAction, uniqueName, type StartedAction } from './action.js';
import {
  appTree,
  makeKeys,
  pack,
  publishRelease,
  type PackedBundle,
  type PublishedRelease,
  type ReleaseKeys,
} from './releases.js';
import { exists } from './files.js';

/*
 * Real sshd hosts for brr's host commands, with the files an operator keeps on a laptop: one
 * private key all hosts accept, a known_hosts file, an allowed_signers file. Each host's sessions
 * start in its own root, so one relative `--path` names a deploy root on each, as on real
 * machines. The releases are deployed by run-action itself.
 */

export const SHA = 'c'.repeat(40);

export interface HostLab {
  hosts: TestHost[];
  keys: ReleaseKeys;
  bundle: PackedBundle;
  /** The private key every host accepts, as a file. */
  sshKeyFile: string;
  sshKey: string;
  /** known_hosts with every host's key. */
  knownHostsFile: string;
  allowedSignersFile: string;
  dir: string;
}

/** A lab of `count` hosts for the test file: started before its tests, stopped after them. */
export function useLab(count: number): () => HostLab {
  let lab: HostLab | undefined;
  beforeAll(async () => {
    lab = await startLab(count);
  });
  afterAll(async () => {
    await Promise.all((lab?.hosts ?? []).map((h) => h.stop()));
  });
  return () => {
    if (!lab) throw new Error('useLab: the hosts start in beforeAll');
    return lab;
  };
}

async function startLab(count: number): Promise<HostLab> {
  const [hosts, keys] = await Promise.all([
    Promise.all(Array.from({ length: count }, () => startHost({ ownWorkingDirectory: true }))),
    makeKeys(),
  ]);
  const key = (await readFile(path.join(hosts[0]!.dir, 'client_key.pub'), 'utf8')).trim();
  for (const h of hosts.slice(1)) {
    await writeFile(path.join(h.dir, 'authorized_keys'), `${key}\n`, { flag: 'a' });
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'brr-laptop-'));
  const sshKeyFile = path.join(dir, 'id_ed25519');
  const knownHostsFile = path.join(dir, 'known_hosts');
  const allowedSignersFile = path.join(dir, 'allowed_signers');
  await writeFile(sshKeyFile, hosts[0]!.privateKey, { mode: 0o600 });
  await writeFile(knownHostsFile, hosts.map((h) => h.knownHosts).join(''));
  await writeFile(allowedSignersFile, keys.allowedSigners);
  const bundle = await pack(await appTree(), 'shop', SHA);
  return {
    hosts,
    keys,
    bundle,
    sshKeyFile,
    sshKey: hosts[0]!.privateKey,
    knownHostsFile,
    allowedSignersFile,
    dir,
  };
}

/** One app's environment on the lab's hosts: its own repository and deploy root. */
export interface Site {
  github: GitHubEmulator;
  lab: HostLab;
  repository: string;
  environment: string;
  /** The relative deploy root, under each host's root. */
  path: string;
  releases: PublishedRelease[];
}

export function newSite(github: GitHubEmulator, lab: HostLab): Site {
  const repository = `acme/${uniqueName('shop')}`;
  github.createRepository(repository);
  return {
    github,
    lab,
    repository,
    environment: 'production',
    path: uniqueName('app'),
    releases: [],
  };
}

/** Publishes the site's next release, chained to its last one. */
export async function release(site: Site): Promise<PublishedRelease> {
  const id = `v${site.releases.length + 1}`;
  const published = await publishRelease(site.github, {
    repository: site.repository,
    app: 'shop',
    environment: site.environment,
    keys: site.lab.keys,
    id,
    sha: SHA,
    bundle: site.lab.bundle,
    vars: { GREETING: `hello from ${id}` },
    ...(site.releases.length ? { previous: site.releases.at(-1)! } : {}),
  });
  site.releases.push(published);
  return published;
}

/**
 * What restart and health check do on the test hosts: restart writes the release's greeting to
 * `<root>/running` (so a test sees which release came up, with its .env); the health check of
 * a release fails while `<root>/FAIL-<id>` exists.
 */
export const RESTART = `printf '%s\\n' "$GREETING" > ../../running`;
export const HEALTH_CHECK = 'test -f server.mjs && test ! -e "../../FAIL-$(basename "$PWD")"';

/** Starts run-action deploying `id` to `on`, as the deploy workflow would. */
export function startDeploy(
  site: Site,
  on: readonly TestHost[],
  id: string,
  inputs: Record<string, string> = {},
): Promise<StartedAction> {
  return startAction({
    action: 'run-action',
    env: site.github.runnerEnv({ repository: site.repository }),
    inputs: {
      environment: site.environment,
      app: 'shop',
      'release-id': id,
      hosts: on.map((h) => h.hostLine).join('\n'),
      path: site.path,
      'ssh-key': site.lab.sshKey,
      'known-hosts': on.map((h) => h.knownHosts).join(''),
      'allowed-signers': site.lab.keys.allowedSigners,
      restart: RESTART,
      'health-check': HEALTH_CHECK,
      'health-timeout': '1',
      ...inputs,
    },
  });
}

/** Deploys `id` to `on` with run-action; throws when it fails. */
export async function deploy(site: Site, on: readonly TestHost[], id: string): Promise<void> {
  const run = await (await startDeploy(site, on, id)).result;
  if (run.code !== 0) throw new Error(`deploy of ${id} failed: ${run.errors.join('; ')}`);
}

/** brr's options that say which app and which hosts: as an operator types them. */
export function hostArgs(site: Site, on: readonly TestHost[] = site.lab.hosts): string[] {
  return [
    '--repo',
    site.repository,
    '--app',
    'shop',
    '--hosts',
    on.map((h) => h.hostLine).join(','),
    '--path',
    site.path,
    '--ssh-key',
    site.lab.sshKeyFile,
    '--known-hosts',
    site.lab.knownHostsFile,
  ];
}

/**
 * brr's host options for the lab's first host and one that nothing answers on (a free port,
 * listed in known_hosts with a key), and that second host's line.
 */
export async function withDownHost(site: Site): Promise<{ args: string[]; down: string }> {
  const first = site.lab.hosts[0]!;
  const port = await freePort();
  const down = `${first.user}@127.0.0.1:${port}`;
  const knownHosts = path.join(site.lab.dir, `known_hosts-${port}`);
  const key = first.knownHosts.split(' ').slice(1).join(' ');
  await writeFile(knownHosts, `${first.knownHosts}[127.0.0.1]:${port} ${key}`);
  const args = hostArgs(site, [first]);
  args[args.indexOf('--hosts') + 1] = `${first.hostLine},${down}`;
  args[args.indexOf('--known-hosts') + 1] = knownHosts;
  return { args, down };
}

export function rootOn(h: TestHost, site: Site): string {
  return path.join(h.root, site.path);
}

export async function currentOn(h: TestHost, site: Site): Promise<string | undefined> {
  try {
    return path.basename(await readlink(path.join(rootOn(h, site), 'current')));
  } catch {
    return undefined;
  }
}

export async function historyOn(h: TestHost, site: Site): Promise<HistoryEvent[]> {
  try {
    return parseHistory(await readFile(path.join(rootOn(h, site), '.deploy/history'), 'utf8'));
  } catch {
    return [];
  }
}

/** What restart last wrote on the host: the greeting of the release that came up. */
export async function runningOn(h: TestHost, site: Site): Promise<string | undefined> {
  try {
    return (await readFile(path.join(rootOn(h, site), 'running'), 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Waits until `check` holds, or fails after `ms`. */
export async function waitFor(check: () => Promise<boolean>, what: string, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** An ssh-agent holding `key`, as on a laptop; stop() ends it. */
export async function startAgent(keyFile: string): Promise<{ socket: string; stop(): void }> {
  const socket = path.join(await mkdtemp(path.join(tmpdir(), 'brr-agent-')), 'agent.sock');
  const child = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  await waitFor(() => exists(socket), 'the ssh-agent socket', 10_000);
  await new Promise<void>((resolve, reject) => {
    const add = spawn('ssh-add', ['-q', keyFile], {
      env: { ...process.env, SSH_AUTH_SOCK: socket },
      stdio: 'ignore',
    });
    add.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ssh-add: ${code}`))));
  });
  return { socket, stop: () => child.kill() };
}
