import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdtemp,
  readFile,
  readdir,
  readlink,
  realpath,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { zstdCompressSync } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatError } from '../../shared/errors.js';
import { parseHistory, type HistoryEvent } from '../../shared/host/history.js';
import { commandScript } from '../../shared/host/scripts/command.js';
import { shellQuote } from '../../shared/names.js';
import { signMessage } from '../../shared/signature.js';
import { useGitHub } from '../emulator/vitest.js';
import { runAction, shownLog, startAction, uniqueName, type ActionRun } from '../helpers/action.js';
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
import { snapshot } from './fleet-helpers.js';
import { exists } from '../helpers/files.js';

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
  bundleB = await pack(await appTree({ VERSION: 'b\n' }), 'shop', SHA_B);
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

async function deploy(
  site: Site,
  inputs: Record<string, string | undefined> = {},
  env: Record<string, string> = {},
): Promise<ActionRun> {
  const started = await startAction({
    action: 'run-action',
    env: { ...emulator().runnerEnv({ repository: site.repository }), ...env },
    inputs: runInputs(site, inputs),
  });
  return started.result;
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

/** The variables restart and health-check see in a release: the engine's own way of exporting .env. */
function envSeenBy(root: string, id: string, names: string[]): Record<string, string | undefined> {
  const print = `const o={};for(const n of process.argv.slice(1))o[n]=process.env[n];console.log(JSON.stringify(o))`;
  const command = [NODE, '-e', print, ...names].map(shellQuote).join(' ');
  const out = execFileSync('sh', ['-c', commandScript(root, id, command)], {
    encoding: 'utf8',
  });
  return JSON.parse(out) as Record<string, string | undefined>;
}

/** What the site's last GitHub Deployment says of itself in its last status. */
function deploymentDescription(site: Site): string | undefined {
  return emulator().state.repository(site.repository).deployments.at(-1)?.statuses.at(-1)
    ?.description;
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
      expect(envSeenBy(root, 'v2', ['PORT', 'GREETING', 'API_TOKEN', 'NODE'])).toEqual({
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
      expect(history[1]?.digest).toBe(bundleA.digest);
      expect(history[1]?.by).toMatch(/^octocat \(run [0-9]+\)$/);
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
      // How to go back, as commands that run as written in this repository.
      expect(second.summary).toContain(
        `To go back to v1, run the [rollback workflow](${emulator().runnerEnv({ repository: site.repository }).GITHUB_SERVER_URL}/${site.repository}/actions/workflows/rollback.yml) with environment \`production\` and release-id \`v1\``,
      );
      expect(second.summary).toContain(
        `gh workflow run rollback.yml --repo ${site.repository} -f environment=production -f release-id=v1\n`,
      );
      expect(second.outputs['host-releases']).toBe(
        JSON.stringify({ [host.hostLine]: { release: 'v2', healthy: true } }),
      );

      // The log: one group for the host, with the restart's and the health check's words in it.
      expect(second.log).toMatch(/^::stop-commands::[0-9a-f-]+\nstarted v2/m);
      const shown = shownLog(second.log);
      const group = shown.slice(
        shown.indexOf(`::group::${host.hostLine}: deploy v2\n`),
        shown.indexOf('::endgroup::'),
      );
      expect(group).toMatch(/^started v2 as pid [0-9]+$/m);
      expect(group).toContain(`host ${host.hostLine}: v2 is healthy (`);
      expect(second.log).not.toMatch(/^::(warning|debug)::host /m);

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

/** The app, the deploy root and the SSH log, to show that a refused run changed nothing anywhere. */
async function untouched(site: Site): Promise<() => Promise<void>> {
  const tree = snapshot(site.root);
  const seen = connections();
  const { pid } = await ask(site.port);
  return async () => {
    expect(snapshot(site.root)).toBe(tree);
    expect(connections(), 'SSH connections to the host').toBe(seen);
    expect(await ask(site.port)).toMatchObject({ pid, release: 'v1' });
  };
}

describe('run-action verifies the release before it touches any host', () => {
  let site: Site;
  let v1: PublishedRelease;
  let hostile: PackedBundle;

  beforeAll(async () => {
    hostile = await hostileBundle();
    site = await newSite('verify');
    v1 = await release(site);
    const first = await deploy(site);
    expect(first.code, first.log).toBe(0);
  });

  afterAll(async () => {
    await stopApp(site);
  });

  const cases: {
    name: string;
    tamper: () => Promise<NonNullable<PublishOptions['tamper']>>;
    /** A function: the bundles exist only once beforeAll has run. */
    error: () => RegExp;
    /** The bundle the release is made with, when not the sample app. */
    bundle?: () => PackedBundle;
  }[] = [
    {
      name: 'one byte of release.json changed',
      tamper: () =>
        Promise.resolve({
          manifest: (bytes) =>
            Buffer.from(bytes.toString('utf8').replace('hello from', 'hellO from')),
        }),
      error: () =>
        /^release shop\/production\/v[0-9]+ is not trusted: release\.json\.sig: does not match the signed bytes; the file or its signature was changed$/,
    },
    {
      name: 'one config value changed',
      tamper: () => Promise.resolve({ manifest: (bytes) => withVar(bytes, 'GREETING', 'pwned') }),
      error: () => /is not trusted: release\.json\.sig: does not match the signed bytes/,
    },
    {
      name: 'the bundle swapped for another release’s',
      tamper: () => Promise.resolve({ bundle: bundleB }),
      error: () =>
        new RegExp(
          `^release shop/production/v[0-9]+: the bundle shop-a{40}\\.tar\\.zst: expected ${bundleA.digest} \\(${bundleA.size} bytes\\), as release\\.json says, got (an asset of ${bundleB.size} bytes|${bundleB.digest} \\(${bundleB.size} bytes\\)); the asset was replaced or damaged$`,
        ),
    },
    {
      name: 'a signed bundle holding an entry that escapes its directory',
      tamper: () => Promise.resolve({}),
      bundle: () => hostile,
      error: () =>
        /^release shop\/production\/v[0-9]+: entry "\.\.\/escaped": contains '\.\.'; expected a path inside the root$/,
    },
    {
      name: 'signed by a key not in allowed-signers',
      tamper: async () => {
        const stranger = await makeSigner('mallory@example.com');
        return { signature: (bytes) => signWith(bytes, stranger) };
      },
      error: () =>
        /^release shop\/production\/v[0-9]+ is not trusted: release\.json\.sig: is made by a key that is not in allowed-signers; got ssh-ed25519 AAAA\S+$/,
    },
    {
      name: 'a genuine release.json of another release published under this tag',
      tamper: () =>
        Promise.resolve({ manifest: () => v1.manifestBytes, signature: () => v1.signature }),
      error: () =>
        /^release shop\/production\/(v[0-9]+): its signed release\.json is for shop\/production\/v1, not shop\/production\/\1; it was published under the wrong tag$/,
    },
  ];

  for (const { name, tamper, error, bundle } of cases) {
    it(`refuses a release with ${name}; the host is byte-for-byte unchanged`, async () => {
      // Each bad release follows v1, whose link holds: its own flaw is what run refuses.
      const bad = await release(site, {
        ...(bundle ? { bundle: bundle() } : {}),
        greeting: 'hello from a bad release',
        previous: v1,
        tamper: await tamper(),
      });
      const check = await untouched(site);
      const run = await deploy(site, { 'release-id': bad.id });
      expect(run.code).toBe(1);
      expect(run.errors).toHaveLength(1);
      expect(run.errors[0]).toMatch(error());
      await check();
      expect(emulator().state.repository(site.repository).deployments).toHaveLength(1);
      // A summary even so: what was checked, that nothing changed.
      expect(run.summary).toMatch(
        new RegExp(`^### Deploy shop production ${bad.id}: failed, nothing changed\n`),
      );
      expect(run.summary).toContain(
        `- ✓ release ${bad.id} found in the ledger: [shop/production/${bad.id}](`,
      );
      expect(run.summary).toContain(
        'Nothing changed on any host, and no GitHub Deployment was recorded.',
      );
      expect(run.summary).toContain(formatError(run.errors[0]));
    });
  }

  it('asks for the identity when the release has secrets, and refuses one it was not encrypted to', async () => {
    const good = await release(site, { greeting: 'hello from a good release', previous: v1 });
    const check = await untouched(site);
    const missing = await deploy(site, { 'release-id': good.id, identity: undefined });
    expect(missing.summary).toContain('- ✓ the bundle: its digest `sha256:');
    expect(missing.errors).toEqual([
      `Input 'identity': is required: release shop/production/${good.id} has secrets (API_TOKEN); pass the age identity (AGE-SECRET-KEY-1…) they were encrypted to`,
    ]);
    const wrong = await deploy(site, {
      'release-id': good.id,
      identity: (await makeIdentity()).identity,
    });
    expect(wrong.errors).toEqual([
      `Input 'identity': release shop/production/${good.id}: does not decrypt the release's secrets: they were encrypted to other recipients`,
    ]);
    const garbled = await deploy(site, { 'release-id': good.id, identity: 'AGE-SECRET-KEY-1NOPE' });
    expect(garbled.errors[0]).toMatch(/^Input 'identity': line 1: expected an age X25519 identity/);
    const unmasked = garbled.log.split('\n').filter((line) => !line.startsWith('::add-mask::'));
    expect(unmasked.join('\n')).not.toContain('AGE-SECRET-KEY-1NOPE');
    await check();
  });

  it('names the release when the ledger has no such ID or nothing published', async () => {
    const check = await untouched(site);
    const unknown = await deploy(site, { 'release-id': 'v99' });
    expect(unknown.errors).toEqual([
      "Input 'release-id': shop/production has no published release v99 (no GitHub Release tagged shop/production/v99)",
    ]);
    const empty = await deploy({ ...site, environment: 'staging' }, { 'release-id': 'latest' });
    expect(empty.errors).toEqual([
      "Input 'release-id': shop/staging has no published release yet; run release-action first",
    ]);
    await check();
  });
});

/** A zstd tar whose second entry climbs out of the release directory, as a hostile build might. */
async function hostileBundle(): Promise<PackedBundle> {
  const archive = tarPack();
  archive.entry({ name: 'server.mjs', mode: 0o644, mtime: new Date(0) }, 'export {};\n');
  archive.entry({ name: '../escaped', mode: 0o644, mtime: new Date(0) }, 'owned\n');
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  const bytes = zstdCompressSync(Buffer.concat(chunks));
  const dir = await mkdtemp(path.join(tmpdir(), 'brr-hostile-'));
  const file = path.join(dir, `shop-${SHA_A}.tar.zst`);
  await writeFile(file, bytes);
  return {
    file,
    size: bytes.length,
    digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
  };
}

function signWith(bytes: Buffer, signer: Awaited<ReturnType<typeof makeSigner>>): string {
  return signMessage(bytes, signer.key);
}

describe('run-action on a failed health check', () => {
  it('puts the previous release back, restarts it, records the failure and fails the step with the check’s output', async () => {
    const site = await newSite('health');
    try {
      await release(site);
      expect((await deploy(site)).code).toBe(0);
      const before = await ask(site.port);
      // Without GREETING the app refuses to start: the check finds nothing answering.
      await release(site, { vars: { PORT: String(site.port), NODE } });
      const run = await deploy(site, { 'health-timeout': '3', url: 'https://shop.example.com' });
      expect(run.code).toBe(1);
      expect(run.errors).toHaveLength(1);
      expect(run.errors[0]).toMatch(
        new RegExp(
          `^Deploying v2 failed on ${host.hostLine}, ${host.hostLine} is back on v1: host ${host.hostLine}: v2: health check failed for [0-9]+ s \\([0-9]+ attempts\\); switched back to v1 and restarted it; last output: GET http://127\\.0\\.0\\.1:${site.port}/health: ECONNREFUSED$`,
        ),
      );
      // One annotation for one failure: the error, no warning beside it.
      expect(run.log).not.toMatch(/^::warning::/m);
      expect(await readlink(path.join(site.root, 'current'))).toBe('releases/v1');
      const after = await ask(site.port);
      expect(after).toMatchObject({ release: 'v1', greeting: 'hello from v1' });
      expect(after.pid).not.toBe(before.pid);
      expect(await readFile(path.join(site.root, 'shared/log/server.log'), 'utf8')).toContain(
        'GREETING is not set',
      );
      const history = await historyOf(site.root);
      expect(history.map((e) => [e.event, e.release, e.from])).toEqual([
        ['activated', 'v1', undefined],
        ['failed', 'v2', undefined],
        ['rolled-back', 'v1', 'v2'],
      ]);
      expect(history[1]?.reason).toMatch(/^health check failed/);
      expect(run.outputs).toMatchObject({
        'release-id': 'v1',
        'previous-release-id': 'v1',
        'rolled-back': 'true',
      });
      expect(run.summary).toContain(
        `Deploy shop production v2: failed, \`${host.hostLine}\` is back on v1`,
      );
      // The check's last output, as it printed it, in a block of its own.
      expect(run.summary).toContain(
        `\`${host.hostLine}\`, the last output of the health check of v2:\n\n\`\`\`text\nGET http://127.0.0.1:${site.port}/health: ECONNREFUSED\n\`\`\``,
      );
      expect(run.outputs['host-releases']).toBe(
        JSON.stringify({ [host.hostLine]: { release: 'v1', healthy: true } }),
      );
      expect(deploymentDescription(site)).toBe(`v2: failed, ${host.hostLine} is back on v1`);
      const deployment = emulator().state.repository(site.repository).deployments.at(-1);
      expect(deployment?.statuses.map((s) => s.state)).toEqual(['in_progress', 'failure']);
      expect(await exists(path.join(site.root, '.deploy/lock'))).toBe(false);
    } finally {
      await stopApp(site);
    }
  });
});

describe('run-action shows what the host says', () => {
  it('prints the restart’s output as it comes, masked by the runner, and keeps secrets out of the summary', async () => {
    const site = await newSite('output');
    const restart =
      'bin/restart && echo "token: $API_TOKEN" && test "$GREETING" != "hello from v2"';
    try {
      await release(site);
      expect((await deploy(site, { restart })).code).toBe(0);
      await release(site);
      const run = await deploy(site, { restart });
      expect(run.code).toBe(1);
      const secret = `token-of-v2-${site.port}`;
      const line = run.log.indexOf(`\ntoken: ${secret}\n`);
      expect(line).toBeGreaterThan(0);
      // Registered before it is printed: the runner shows *** in its place.
      expect(run.log.indexOf(`::add-mask::${secret}`)).toBeGreaterThanOrEqual(0);
      expect(run.log.indexOf(`::add-mask::${secret}`)).toBeLessThan(line);
      expect(run.summary).toContain('the last output of the restart of v2:');
      expect(run.summary).toMatch(/^token: \*\*\*$/m);
      expect(run.summary).not.toContain(secret);
    } finally {
      await stopApp(site);
    }
  });
});

/** The time and bytes sent of a host's row in the job summary. */
function hostRow(run: ActionRun): { seconds: number; sent: string } {
  const row = run.summary.split('\n').find((line) => line.startsWith(`| \`${host.hostLine}\``));
  const cells = row?.split('|').map((cell) => cell.trim()) ?? [];
  const [seconds, sent] = (cells[5] ?? '').split(', ');
  return { seconds: Number.parseFloat(seconds ?? 'NaN'), sent: sent ?? '' };
}

describe('run-action release-id: previous', () => {
  it('goes back to the last good release still on the host, uploading nothing', async () => {
    const site = await newSite('previous');
    try {
      await release(site);
      expect((await deploy(site)).code).toBe(0);
      await release(site, { sha: SHA_B, bundle: bundleB });
      expect((await deploy(site)).code).toBe(0);
      expect(await ask(site.port)).toMatchObject({ release: 'v2' });

      const requestsBefore = emulator().requests().length;
      const run = await deploy(site, { 'release-id': 'previous', identity: undefined });
      expect(run.errors).toEqual([]);
      expect(run.outputs).toMatchObject({
        'release-id': 'v1',
        'previous-release-id': 'v2',
        'rolled-back': 'false',
      });
      expect(await ask(site.port)).toMatchObject({ release: 'v1', greeting: 'hello from v1' });
      expect(await readlink(path.join(site.root, 'current'))).toBe('releases/v1');
      expect(hostRow(run).sent).toBe('0 B');
      // Only release.json and its signature were fetched, not the bundle.
      const downloads = emulator()
        .requests()
        .slice(requestsBefore)
        .filter((r) => /\/releases\/assets\/[0-9]+$/.test(r.path));
      expect(downloads).toHaveLength(2);
      expect(run.summary).toContain('Rollback shop production v1: rolled back on 1 host');
      expect(run.summary).toContain('To go back to v2, run the [rollback workflow]');
      expect(run.summary).toContain(
        `gh workflow run rollback.yml --repo ${site.repository} -f environment=production -f release-id=v2\n`,
      );
      expect((await historyOf(site.root)).at(-1)).toMatchObject({
        event: 'rolled-back',
        release: 'v1',
        from: 'v2',
      });
      const deployment = emulator().state.repository(site.repository).deployments.at(-1);
      expect(deployment).toMatchObject({ sha: SHA_A, payload: { release: 'v1', rollback: true } });

      // v2 was rolled back from: the release before v1 is none, so previous has nowhere to go.
      const again = await deploy(site, { 'release-id': 'previous' });
      expect(again.errors).toEqual([
        `Input 'release-id': previous: ${host.hostLine} has no good release before v1 left on it; deploy an explicit release-id instead`,
      ]);

      // Without restart or health check, going back is one rename: well under a second.
      const quick = await deploy(site, {
        'release-id': 'v2',
        restart: undefined,
        'health-check': undefined,
      });
      expect(quick.errors).toEqual([]);
      expect(hostRow(quick).sent).toBe('0 B');
      expect(hostRow(quick).seconds).toBeLessThan(1);
    } finally {
      await stopApp(site);
    }
  });
});

/** Starts the action and resolves once its log shows `pattern`; the run goes on. */
async function startUntil(
  site: Site,
  inputs: Record<string, string | undefined>,
  pattern: RegExp,
): Promise<{ child: ChildProcess; result: Promise<ActionRun>; seen: Promise<void> }> {
  const started = await startAction({
    action: 'run-action',
    env: emulator().runnerEnv({ repository: site.repository }),
    inputs: runInputs(site, inputs),
  });
  let log = '';
  const seen = new Promise<void>((resolve, reject) => {
    started.child.stdout?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (pattern.test(log)) resolve();
    });
    started.child.once('exit', () => reject(new Error(`the run ended before ${pattern}: ${log}`)));
  });
  seen.catch(() => undefined);
  return { child: started.child, result: started.result, seen };
}

function phase(name: string): RegExp {
  return new RegExp(`^host ${host.hostLine.replace(/\./g, '\\.')}: ${name}$`, 'm');
}

/** What `current` points to must be a whole release: renamed into place with its .env and manifest. */
async function expectCompleteCurrent(site: Site): Promise<string> {
  const target = await readlink(path.join(site.root, 'current'));
  expect(target).toMatch(/^releases\/v[0-9]+$/);
  const dir = path.join(site.root, target);
  const id = path.basename(dir);
  expect(envSeenBy(site.root, id, ['GREETING']).GREETING).toBe(`hello from ${id}`);
  expect(JSON.parse(await readFile(path.join(dir, '.release/release.json'), 'utf8'))).toMatchObject(
    { id },
  );
  expect(await exists(path.join(dir, 'server.mjs'))).toBe(true);
  return id;
}

async function leftovers(site: Site): Promise<string[]> {
  return (await readdir(path.join(site.root, 'releases'))).filter((name) => name.endsWith('.tmp'));
}

describe('run-action and the deploy lock', () => {
  it('lets one of two runs started at once proceed; the other fails fast naming the holder', async () => {
    const site = await newSite('lock');
    try {
      await release(site);
      const slow = { restart: 'bin/restart && sleep 2' };
      const [a, b] = await Promise.all([deploy(site, slow), deploy(site, slow)]);
      const [winner, loser] = a.code === 0 ? [a, b] : [b, a];
      expect(winner.code, winner.log).toBe(0);
      expect(loser.code).toBe(1);
      const winnerRun = /\/actions\/runs\/([0-9]+)/.exec(
        (await historyOf(site.root))[0]?.run ?? '',
      )?.[1];
      expect(loser.errors).toHaveLength(1);
      // What runs is read back: the winner's v1, or nothing yet when it had not switched.
      expect(loser.errors[0]).toMatch(
        new RegExp(
          `^Deploying v1 failed on ${host.hostLine}, nothing changed: (${host.hostLine} runs v1|nothing is current on ${host.hostLine}): host ${host.hostLine}: deploy lock held by octocat \\(run ${winnerRun}\\) on .+ \\(pid [0-9]+\\) since 20[0-9T:.-]+Z \\(.+/actions/runs/${winnerRun}\\); set lock-timeout to wait for it$`,
        ),
      );
      expect(loser.summary).toMatch(/^### Deploy shop production v1: failed, nothing changed: /);
      expect((await historyOf(site.root)).map((e) => [e.event, e.release])).toEqual([
        ['activated', 'v1'],
      ]);
      expect(await exists(path.join(site.root, '.deploy/lock'))).toBe(false);
      // A Deployment is recorded once a host is about to change: the loser changed nothing.
      expect(emulator().state.repository(site.repository).deployments).toHaveLength(1);

      // Asked to wait, the second run proceeds once the first is done: whole deploys only.
      await release(site);
      const [c, d] = await Promise.all([
        deploy(site, { ...slow, 'release-id': 'v1', 'lock-timeout': '60' }),
        deploy(site, { ...slow, 'release-id': 'v2', 'lock-timeout': '60' }),
      ]);
      expect([c.code, d.code]).toEqual([0, 0]);
      const history = await historyOf(site.root);
      expect(history).toHaveLength(3);
      const last = history.at(-1)!;
      expect(history[1]).toMatchObject({ event: 'activated', release: last.from });
      expect(await ask(site.port)).toMatchObject({ release: last.release });
      expect(await exists(path.join(site.root, '.deploy/lock'))).toBe(false);
    } finally {
      await stopApp(site);
    }
  });

  it('keeps current whole when the run is killed at upload or restart; the next run takes the dead lock over and recovers', async () => {
    const site = await newSite('kill');
    try {
      await release(site);
      expect((await deploy(site)).code).toBe(0);
      // Enough data that the upload is still running when the run is killed.
      const big = await pack(
        await appTree({ 'data/filler.bin': randomBytes(24 * 1024 * 1024) }),
        'shop',
        SHA_B,
      );
      await release(site, { sha: SHA_B, bundle: big });

      const killed = await startUntil(site, {}, phase('upload'));
      await killed.seen;
      await new Promise((resolve) => setTimeout(resolve, 150));
      killed.child.kill('SIGKILL');
      await killed.result;
      expect(await expectCompleteCurrent(site)).toBe('v1');
      expect(await ask(site.port)).toMatchObject({ release: 'v1' });
      expect(await leftovers(site)).not.toEqual([]);

      // The lock's holder is gone but its heartbeat is fresh: held, said plainly, nothing changed.
      const blocked = await deploy(site);
      expect(blocked.errors[0]).toMatch(
        new RegExp(
          `^Deploying v2 failed on ${host.hostLine}, nothing changed: ${host.hostLine} runs v1: host ${host.hostLine}: deploy lock held by octocat \\(run [0-9]+\\)`,
        ),
      );
      expect(blocked.outputs['release-id']).toBe('v1');
      // Its heartbeat silent for longer than lock-stale-after: taken over, cleaned, deployed.
      const recovered = await deploy(site, { 'lock-stale-after': '3', 'lock-timeout': '10' });
      expect(recovered.errors).toEqual([]);
      expect(recovered.log).toMatch(
        /took over the deploy lock of octocat \(run [0-9]+\) on .+, silent for [0-9]+ s/,
      );
      expect(await leftovers(site)).toEqual([]);
      expect(await expectCompleteCurrent(site)).toBe('v2');
      expect(await ask(site.port)).toMatchObject({ release: 'v2' });

      // Killed while restarting: the switch is done, so current is the new release, whole.
      await release(site);
      const restarting = await startUntil(
        site,
        { restart: 'bin/restart && sleep 30' },
        phase('restart'),
      );
      await restarting.seen;
      restarting.child.kill('SIGKILL');
      await restarting.result;
      expect(await expectCompleteCurrent(site)).toBe('v3');
      const next = await deploy(site, {
        'release-id': 'v2',
        'lock-stale-after': '3',
        'lock-timeout': '10',
      });
      expect(next.errors).toEqual([]);
      expect(await expectCompleteCurrent(site)).toBe('v2');
      expect(await ask(site.port)).toMatchObject({ release: 'v2' });
      expect(await leftovers(site)).toEqual([]);
      expect(await exists(path.join(site.root, '.deploy/lock'))).toBe(false);
    } finally {
      await stopApp(site);
    }
  });
});

describe('run-action prunes old releases', () => {
  it('keeps `keep` releases, never current or the previous good one; failed ones use no slot', async () => {
    const site = await newSite('prune');
    const fast = { restart: undefined, 'health-check': 'test -f server.mjs', keep: '2' };
    const releasesOnHost = async () => (await readdir(path.join(site.root, 'releases'))).sort();
    for (let n = 1; n <= 3; n++) {
      await release(site);
      const run = await deploy(site, fast);
      expect(run.errors).toEqual([]);
    }
    expect(await releasesOnHost()).toEqual(['v2', 'v3']);
    // v4 fails its check: it stays for a look, and takes no slot from v2 and v3.
    await release(site);
    const failed = await deploy(site, { ...fast, 'health-check': 'false', 'health-timeout': '1' });
    expect(failed.code).toBe(1);
    expect(await releasesOnHost()).toEqual(['v2', 'v3', 'v4']);
    await release(site);
    const fifth = await deploy(site, fast);
    expect(fifth.errors).toEqual([]);
    expect(await releasesOnHost()).toEqual(['v3', 'v5']);
    expect(hostRowCells(fifth)[2]).toMatch(/^✓ v5 activated; pruned (v2, v4|v4, v2)$/);
  });
});

/** The cells of the host's row in the job summary. */
function hostRowCells(run: ActionRun, label = host.hostLine): string[] {
  const row = run.summary.split('\n').find((line) => line.startsWith(`| \`${label}\``));
  return row?.split('|').map((cell) => cell.trim()) ?? [];
}

describe('run-action names the host when it cannot be used', () => {
  let site: Site;
  let otherKey: string;

  beforeAll(async () => {
    site = await newSite('hosts');
    await release(site);
    const dir = path.join(host.dir, 'other');
    execFileSync('sh', [
      '-c',
      `mkdir -p "$1" && ssh-keygen -q -t ed25519 -N '' -f "$1/key"`,
      'sh',
      dir,
    ]);
    otherKey = await readFile(path.join(dir, 'key'), 'utf8');
  });

  /** A refused run: one error line, naming the host, and nothing on it. */
  async function refused(
    inputs: Record<string, string | undefined>,
    target: TestHost = host,
  ): Promise<string> {
    const run = await deploy(site, { hosts: target.hostLine, ...inputs });
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    const error = run.errors[0]!;
    expect(error).not.toContain('\n');
    expect(error).toContain(inputs.hosts ?? target.hostLine);
    expect(await exists(path.join(site.root, 'current'))).toBe(false);
    return error;
  }

  it('a host key that does not match known-hosts', async () => {
    const otherHostKey = (await readFile(path.join(host.dir, 'other/key.pub'), 'utf8')).trim();
    const error = await refused({ 'known-hosts': `[127.0.0.1]:${host.port} ${otherHostKey}\n` });
    expect(error).toMatch(
      new RegExp(
        `^host ${host.hostLine}: host key ssh-ed25519 SHA256:\\S+ does not match known-hosts; if the host was rebuilt, update known-hosts, else someone may be in the middle$`,
      ),
    );
  });

  it('a host missing from known-hosts, and no known-hosts at all', async () => {
    const error = await refused({
      'known-hosts': `[127.0.0.1]:1 ${host.knownHosts.split(' ').slice(1).join(' ')}`,
    });
    expect(error).toBe(
      `host ${host.hostLine}: not in known-hosts; add a line for [127.0.0.1]:${host.port} (ssh-keyscan -p ${host.port} 127.0.0.1, then check its fingerprint)`,
    );
    const none = await refused({ 'known-hosts': undefined });
    expect(none).toMatch(/^Input 'known-hosts': required for SSH hosts \(brr-deploy@/);
  });

  it('a public key given as ssh-key: one line naming the input, before any connection', async () => {
    const seen = connections();
    const publicKey = await readFile(path.join(host.dir, 'other/key.pub'), 'utf8');
    const run = await deploy(site, { 'ssh-key': publicKey });
    expect(run.summary).toContain('It stopped at the first check.');
    expect(run.summary).toContain('The hosts were not read');
    expect(run.outputs['release-id']).toBe('');
    expect(run.errors).toEqual([
      "Input 'ssh-key': expected an unencrypted OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----), got a ssh-ed25519 public key; give the private half of the key pair; the public half goes in the host user’s authorized_keys",
    ]);
    expect(connections(), 'SSH connections to the host').toBe(seen);
    expect(await exists(path.join(site.root, 'current'))).toBe(false);
  });

  it('a user key the host does not accept', async () => {
    const error = await refused({ 'ssh-key': otherKey });
    expect(error).toBe(
      `host ${host.hostLine}: the host refused ssh-key (authentication failed); check the user's authorized_keys`,
    );
  });

  it('a host nothing answers on', async () => {
    const port = await freePort();
    const line = `${host.user}@127.0.0.1:${port}`;
    const error = await refused({
      hosts: line,
      'known-hosts': `[127.0.0.1]:${port} ${host.knownHosts.split(' ').slice(1).join(' ')}`,
    });
    expect(error).toBe(`host ${line}: unreachable (ECONNREFUSED)`);
  });

  it('a host without tar, and a host whose disk is full', async () => {
    const tarless = await startHost({ withoutTools: ['tar'] });
    const small = await startHost({ diskBytes: 4 * 1024 * 1024 });
    try {
      const noTar = await deploy(site, {
        hosts: tarless.hostLine,
        'ssh-key': tarless.privateKey,
        'known-hosts': tarless.knownHosts,
        path: tarless.root,
      });
      expect(noTar.errors).toEqual([
        `Deploying v1 failed on ${tarless.hostLine}, nothing changed: nothing is current on ${tarless.hostLine}: host ${tarless.hostLine}: tar is not installed or not on the PATH; the host needs POSIX sh and tar`,
      ]);
      expect(await exists(path.join(tarless.root, 'current'))).toBe(false);

      const big = await pack(
        await appTree({ 'data/filler.bin': randomBytes(8 * 1024 * 1024) }),
        'shop',
        SHA_B,
      );
      const bigRelease = await release(site, { sha: SHA_B, bundle: big });
      const full = await deploy(site, {
        'release-id': bigRelease.id,
        hosts: small.hostLine,
        'ssh-key': small.privateKey,
        'known-hosts': small.knownHosts,
        path: small.root,
      });
      expect(full.errors).toHaveLength(1);
      expect(full.errors[0]).toMatch(
        new RegExp(
          `^Deploying ${bigRelease.id} failed on ${small.hostLine}, nothing changed: nothing is current on ${small.hostLine}: host ${small.hostLine}: no space left on device under ${small.root} while unpacking ${bigRelease.id}$`,
        ),
      );
      expect(await exists(path.join(small.root, 'current'))).toBe(false);
      expect(await readdir(path.join(small.root, 'releases'))).toEqual([]);
    } finally {
      await Promise.all([tarless.stop(), small.stop()]);
    }
  });
});

describe('run-action keeps planted values away from the shell', () => {
  it('carries quotes, $(), backquotes and newlines in paths and config as data; nothing extra runs', async () => {
    const canary = path.join(host.dir, uniqueName('canary'));
    const site = await newSite('shell');
    site.root = path.join(host.root, `we'ird $(touch ${canary}-path) \`touch ${canary}-tick\` dir`);
    const planted = {
      GREETING: `$(touch ${canary}-greeting) and \`touch ${canary}-backquote\` and "double" and $HOME`,
      QUOTED: `it's $(touch ${canary}-quoted)`,
      BOTH: `it's "both" $(touch ${canary}-both) \`touch ${canary}-both2\``,
      LINES: `line one\nline two; touch ${canary}-newline\n`,
    };
    try {
      await release(site, {
        vars: { PORT: String(site.port), NODE, ...planted },
        secrets: { API_TOKEN: `'; touch ${canary}-secret; echo '` },
      });
      const run = await deploy(site);
      expect(run.errors).toEqual([]);
      expect(await ask(site.port)).toMatchObject({ greeting: planted.GREETING, release: 'v1' });
      expect(envSeenBy(site.root, 'v1', [...Object.keys(planted), 'API_TOKEN'])).toEqual({
        ...planted,
        API_TOKEN: `'; touch ${canary}-secret; echo '`,
      });
      const trail = execFileSync('sh', ['-c', 'ls -d "$1"* 2>/dev/null || true', 'sh', canary], {
        encoding: 'utf8',
      });
      expect(trail).toBe('');

      // Values the inputs refuse never get as far as a host.
      for (const [input, value, message] of [
        ['release-id', `v1; touch ${canary}-id`, /^Input 'release-id'/],
        ['hosts', `${host.user}@127.0.0.1;touch ${canary}-host`, /^Input 'hosts': line 1/],
        [
          'path',
          `${site.root}\nsecond line`,
          /^Input 'path': expected a directory path on one line/,
        ],
      ] as const) {
        const bad = await deploy(site, { [input]: value });
        expect(bad.errors[0]).toMatch(message);
      }
      expect(
        execFileSync('sh', ['-c', 'ls -d "$1"* 2>/dev/null || true', 'sh', canary], {
          encoding: 'utf8',
        }),
      ).toBe('');
    } finally {
      await stopApp(site);
    }
  });
});

describe('run-action on the runner itself', () => {
  it('deploys to `local` without SSH, and its commands see none of the step’s inputs or tokens', async () => {
    const site = await newSite('local');
    site.root = await mkdtemp(path.join(tmpdir(), 'brr-local-'));
    try {
      await release(site);
      const run = await deploy(site, {
        hosts: 'local',
        'ssh-key': undefined,
        'known-hosts': undefined,
        'health-check': `bin/health && test -z "\${INPUT_IDENTITY:-}\${GITHUB_TOKEN:-}\${ACTIONS_RUNTIME_TOKEN:-}" && env > ../../shared/log/env.txt`,
      });
      expect(run.errors).toEqual([]);
      expect(await readlink(path.join(site.root, 'current'))).toBe('releases/v1');
      expect(await ask(site.port)).toMatchObject({ release: 'v1', greeting: 'hello from v1' });
      const env = await readFile(path.join(site.root, 'shared/log/env.txt'), 'utf8');
      expect(env).not.toMatch(/^(INPUT_|GITHUB_TOKEN|ACTIONS_)/m);
      expect(env).toContain(`API_TOKEN=token-of-v1-${site.port}`);
      expect(hostRowCells(run, 'local')[2]).toBe('✓ v1 activated');
    } finally {
      await stopApp(site);
      await rm(site.root, { recursive: true, force: true });
    }
  });
});

describe('run-action after build-action and release-action', () => {
  it('deploys what the two actions before it made, over SSH', async () => {
    const site = await newSite('pipeline');
    const runId = 90_000 + site.port;
    const env = {
      ...emulator().runnerEnv({ repository: site.repository, runId }),
      GITHUB_SHA: SHA_A,
      SOURCE_DATE_EPOCH: '1700000000',
    };
    try {
      const workspace = await appTree();
      const built = await runAction({
        action: 'build-action',
        workspace,
        env,
        inputs: { app: 'shop', path: 'bin\nserver.mjs' },
      });
      expect(built.errors).toEqual([]);
      const released = await runAction({
        action: 'release-action',
        workspace,
        env,
        inputs: {
          app: 'shop',
          environment: 'production',
          vars: JSON.stringify({
            PORT: String(site.port),
            GREETING: 'hello from the pipeline',
            NODE,
          }),
          secrets: JSON.stringify({ API_TOKEN: 'pipeline-secret' }),
          'signing-key': keys.signer.privateKey,
          recipients: keys.recipient,
        },
      });
      expect(released.errors).toEqual([]);
      expect(released.outputs['release-id']).toBe('v1');

      const run = await deploy(site);
      expect(run.errors).toEqual([]);
      expect(run.outputs['release-id']).toBe('v1');
      expect(run.summary).toContain(built.outputs.digest);
      expect(await ask(site.port)).toMatchObject({
        greeting: 'hello from the pipeline',
        release: 'v1',
      });
      expect(envSeenBy(site.root, 'v1', ['API_TOKEN']).API_TOKEN).toBe('pipeline-secret');
      expect(
        await readFile(path.join(site.root, 'releases/v1/.release/release.json'), 'utf8'),
      ).toContain(`"digest":"${built.outputs.digest}"`);
    } finally {
      await stopApp(site);
    }
  });
});
