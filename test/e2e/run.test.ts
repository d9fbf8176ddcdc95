import { execFileSync } from 'node:child_process';
import { readFile, readdir, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHistory, type HistoryEvent } from '../../shared/hosts/history.js';
import { useGitHub } from '../emulator/vitest.js';
import { runAction, startAction, uniqueName, type ActionRun } from '../helpers/action.js';
import {
  appTree,
  makeIdentity,
  makeKeys,
  makeSigner,
  pack,
  publishRelease,
  withVar,
  type PackedBundle,
  type PublishOptions,
  type PublishedRelease,
  type ReleaseKeys,
} from '../helpers/releases.js';
import { freePort } from '../hosts/fixtures.js';
import { endProcessesUnder, startHost, type TestHost } from '../hosts/sshd.js';

const emulator = useGitHub();

const SHA_A = 'a'.repeat(40);
const SHA_B = 'b'.repeat(40);
const NODE = process.execPath;

let host: TestHost;
let keys: ReleaseKeys;
let bundleA: PackedBundle;
let bundleB: PackedBundle;

beforeAll(async () => {
  [host, keys] = await Promise.all([startHost(), makeKeys()]);
  bundleA = await pack(await appTree(), 'shop', SHA_A);
  bundleB = await pack(await appTree({ 'VERSION': 'b\n' }), 'shop', SHA_B);
});

afterAll(async () => {
  await host?.stop();
});


/** One app's environment on the shared test host: its own repository, deploy root and port. */
interface Site {
  repository: string;
  app: string;
  environment: string;
  root: string;
  port: number;
  releases: PublishedRelease[];
}

async function newSite(name = 'site'): Promise<Site> {
  const repository = `acme/${uniqueName(name)}`;
  emulator().createRepository(repository);
  return {
    repository,
    app: 'shop',
    environment: 'production',
    root: path.join(host.root, uniqueName(name)),
    port: await freePort(),
    releases: [],
  };
}

/** Publishes the site's next release, chained to its last one. */
async function release(
  site: Site,
  options: Partial<Omit<PublishOptions, 'repository' | 'app' | 'environment' | 'keys'>> & {
    greeting?: string;
  } = {},
): Promise<PublishedRelease> {
  const id = options.id ?? `v${site.releases.length + 1}`;
  const published = await publishRelease(emulator(), {
    repository: site.repository,
    app: site.app,
    environment: site.environment,
    keys,
    id,
    sha: options.sha ?? SHA_A,
    bundle: options.bundle ?? bundleA,
    vars: options.vars ?? {
      PORT: String(site.port),
      GREETING: options.greeting ?? `hello from ${id}`,
      NODE,
    },
    secrets: options.secrets ?? { API_TOKEN: `token-of-${id}-${site.port}` },
    previous: options.previous ?? site.releases.at(-1),
    ...(options.tamper ? { tamper: options.tamper } : {}),
  });
  site.releases.push(published);
  return published;
}

function runInputs(site: Site, inputs: Record<string, string | undefined> = {}) {
  return {
    environment: site.environment,
    app: site.app,
    hosts: host.hostLine,
    path: site.root,
    'ssh-key': host.privateKey,
    'known-hosts': host.knownHosts,
    'allowed-signers': keys.allowedSigners,
    identity: keys.identity,
    restart: 'bin/restart',
    'health-check': 'bin/health',
    'health-timeout': '10',
    'shared-paths': 'run\nlog',
    ...inputs,
  };
}

function deploy(
  site: Site,
  inputs: Record<string, string | undefined> = {},
  env: Record<string, string> = {},
): Promise<ActionRun> {
  return runAction({
    action: 'run-action',
    env: { ...emulator().runnerEnv({ repository: site.repository }), ...env },
    inputs: runInputs(site, inputs),
  });
}

async function ask(port: number): Promise<{ greeting: string; release: string; pid: number }> {
  const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) });
  return (await response.json()) as { greeting: string; release: string; pid: number };
}

async function historyOf(root: string): Promise<HistoryEvent[]> {
  try {
    return parseHistory(await readFile(path.join(root, '.deploy/history'), 'utf8'));
  } catch {
    return [];
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** The variables a command run in the release sees, read as restart reads them: sh sources .env. */
function envSeenBy(releaseDir: string, names: string[]): Record<string, string | undefined> {
  const script = `cd "$1" && set -a && . ./.env && set +a && exec "$2" -e 'const o={};for(const n of process.argv.slice(1))o[n]=process.env[n];console.log(JSON.stringify(o))' "$@"`;
  const out = execFileSync('sh', ['-c', script, 'sh', releaseDir, NODE, ...names], {
    encoding: 'utf8',
  });
  return JSON.parse(out) as Record<string, string | undefined>;
}

/** Every path under a deploy root with its type, mode, size, link target and content digest. */
function snapshot(root: string): string {
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

/** SSH connections the host has accepted so far. */
function connections(): number {
  return host.log().match(/Connection from 127\.0\.0\.1/g)?.length ?? 0;
}

async function stopApp(site: Site): Promise<void> {
  await endProcessesUnder(site.root);
}

describe('run-action deploys over SSH', () => {
  it('deploys v1 then v2 in the documented layout; the app answers with v2 config', async () => {
    const site = await newSite('layout');
    try {
      await release(site);
      const first = await deploy(site);
      expect(first.errors, first.log).toEqual([]);
      expect(first.code, first.log).toBe(0);
      expect(first.outputs).toMatchObject({
        'release-id': 'v1',
        'previous-release-id': '',
        hosts: host.hostLine,
        'rolled-back': 'false',
      });
      expect(await ask(site.port)).toMatchObject({ greeting: 'hello from v1', release: 'v1' });

      const v2 = await release(site, { greeting: 'hello from v2' });
      const second = await deploy(site, { url: 'https://shop.example.com' });
      expect(second.errors).toEqual([]);
      console.log(second.log.split('\n').filter((l) => !l.startsWith('::add-mask')).join('\n'));
      expect(second.outputs).toMatchObject({
        'release-id': 'v2',
        'previous-release-id': 'v1',
        url: 'https://shop.example.com',
        'rolled-back': 'false',
      });
      expect(await ask(site.port)).toMatchObject({ greeting: 'hello from v2', release: 'v2' });

      const { root } = site;
      expect(await readlink(path.join(root, 'current'))).toBe('releases/v2');
      expect((await readdir(path.join(root, 'releases'))).sort()).toEqual(['v1', 'v2']);
      const dir = path.join(root, 'releases/v2');
      const env = await stat(path.join(dir, '.env'));
      expect(env.mode & 0o777).toBe(0o600);
      expect(env.uid).toBe(host.uid);
      expect(envSeenBy(dir, ['PORT', 'GREETING', 'API_TOKEN', 'NODE'])).toEqual({
        PORT: String(site.port),
        GREETING: 'hello from v2',
        API_TOKEN: `token-of-v2-${site.port}`,
        NODE,
      });
      expect(await readFile(path.join(dir, '.release/release.json'))).toEqual(v2.manifestBytes);
      expect(await readFile(path.join(dir, '.release/release.json.sig'), 'utf8')).toBe(
        v2.signature,
      );
      // The signature checks on the host with the reference tool, without our code.
      execFileSync('sh', [
        '-c',
        `printf '%s\\n' "$1" > "$2/allowed" && ssh-keygen -Y verify -f "$2/allowed" -I ci@example.com -n build-release-run -s "$2/.release/release.json.sig" < "$2/.release/release.json"`,
        'sh',
        keys.signer.allowedSigner,
        dir,
      ]);
      await rm(path.join(dir, 'allowed'));
      for (const shared of ['run', 'log']) {
        expect(await readlink(path.join(dir, shared))).toBe(`../../shared/${shared}`);
        expect(await realpath(path.join(dir, shared))).toBe(path.join(root, 'shared', shared));
      }
      const history = await historyOf(root);
      expect(history.map((e) => [e.event, e.release, e.from])).toEqual([
        ['activated', 'v1', undefined],
        ['activated', 'v2', 'v1'],
      ]);
      expect(history[1]).toMatchObject({ digest: bundleA.digest, by: expect.stringMatching(/^octocat \(run [0-9]+\)$/) });
      expect(history[1]?.run).toMatch(/\/acme\/layout-[0-9a-f]+\/actions\/runs\/[0-9]+$/);
      expect(await exists(path.join(root, '.deploy/lock'))).toBe(false);

      // No secret in plain text anywhere but the mask commands the runner consumes.
      for (const run of [first, second]) {
        const unmasked = run.log
          .split('\n')
          .filter((line) => !line.startsWith('::add-mask::'))
          .join('\n');
        expect(unmasked).not.toContain('token-of-');
        expect(run.summary).not.toContain('token-of-');
        expect(JSON.stringify(run.outputs)).not.toContain('token-of-');
        expect(run.log).toContain(`::add-mask::token-of-`);
      }

      // The summary a person reads.
      expect(second.summary).toContain('Deploy shop production v2: deployed to 1 host');
      expect(second.summary).toContain(SHA_A);
      expect(second.summary).toContain(bundleA.digest);
      expect(second.summary).toContain('Config change API_TOKEN, GREETING');
      expect(second.summary).toContain(`\`${host.hostLine}\``);
      expect(second.summary).toMatch(/release-id: v1/);

      // One GitHub Deployment per run, in_progress then success, with the URL.
      const deployments = emulator().state.repository(site.repository).deployments;
      expect(deployments).toHaveLength(2);
      const last = deployments.at(-1)!;
      expect(String(last.id)).toBe(second.outputs['deployment-id']);
      expect(last).toMatchObject({ sha: SHA_A, environment: 'production' });
      expect(last.statuses.map((s) => s.state)).toEqual(['in_progress', 'success']);
      expect(last.statuses.at(-1)).toMatchObject({ environmentUrl: 'https://shop.example.com' });
    } finally {
      await stopApp(site);
    }
  });
});
