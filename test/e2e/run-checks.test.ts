import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readlink, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, type Manifest } from '../../shared/manifest.js';
import { useGitHub } from '../emulator/vitest.js';
import { runAction, uniqueName, type ActionRun } from '../helpers/action.js';
import {
  appTree,
  emulatorClient,
  makeKeys,
  pack,
  publishRelease,
  type PackedBundle,
  type PublishOptions,
  type PublishedRelease,
  type ReleaseKeys,
} from '../helpers/releases.js';
import { startHost, type TestHost } from '../hosts/sshd.js';

/*
 * run-action refuses before any host changes: a release whose chain link does not hold, a bundle
 * that expands past max-unpacked-size, `latest` when it would move the hosts backwards, `destroy`
 * of an environment that is not a preview unless confirmed, and a bad identity or token.
 */

const emulator = useGitHub();

const SHA_A = 'a'.repeat(40);

let host: TestHost;
let keys: ReleaseKeys;
let bundle: PackedBundle;

beforeAll(async () => {
  [host, keys] = await Promise.all([startHost(), makeKeys()]);
  bundle = await pack(await appTree(), 'shop', SHA_A);
});

afterAll(async () => {
  await host?.stop();
});

interface Site {
  repository: string;
  environment: string;
  root: string;
  releases: PublishedRelease[];
}

function newSite(environment = 'production'): Site {
  const repository = `acme/${uniqueName('shop')}`;
  emulator().createRepository(repository);
  return { repository, environment, root: path.join(host.root, uniqueName('root')), releases: [] };
}

async function release(
  site: Site,
  options: Partial<Pick<PublishOptions, 'id' | 'previous' | 'bundle' | 'tamper'>> = {},
): Promise<PublishedRelease> {
  const published = await publishRelease(emulator(), {
    repository: site.repository,
    app: 'shop',
    environment: site.environment,
    keys,
    id: options.id ?? `v${site.releases.length + 1}`,
    sha: SHA_A,
    bundle: options.bundle ?? bundle,
    secrets: { API_TOKEN: 'tok-9a1f' },
    previous: 'previous' in options ? options.previous : site.releases.at(-1),
    ...(options.tamper ? { tamper: options.tamper } : {}),
  });
  site.releases.push(published);
  return published;
}

async function deploy(site: Site, inputs: Record<string, string | undefined> = {}) {
  const env = emulator().runnerEnv({ repository: site.repository });
  const run = await runAction({
    action: 'run-action',
    env,
    inputs: {
      environment: site.environment,
      app: 'shop',
      hosts: host.hostLine,
      path: site.root,
      'ssh-key': host.privateKey,
      'known-hosts': host.knownHosts,
      'allowed-signers': keys.allowedSigners,
      identity: keys.identity,
      ...inputs,
    },
  });
  return { ...run, requests: emulator().requestsBy(env.GITHUB_TOKEN ?? '') };
}

/** SSH connections the host has accepted so far. */
function connections(): number {
  return host.log().match(/Connection from 127\.0\.0\.1/g)?.length ?? 0;
}

/** Every path under a deploy root with its type, mode, size and link target; nothing if none. */
function tree(root: string): string {
  return execFileSync(
    'sh',
    [
      '-c',
      '[ -d "$1" ] || exit 0; cd "$1" && find . -printf "%p %y %m %s %l\\n" | sort',
      'sh',
      root,
    ],
    {
      encoding: 'utf8',
    },
  );
}

/** The site's deploy root and GitHub record as they are now, to show that nothing changed. */
function untouched(site: Site, options: { connects?: boolean } = {}) {
  const before = tree(site.root);
  const seen = connections();
  const deployments = emulator().state.repository(site.repository).deployments;
  return () => {
    expect(tree(site.root)).toBe(before);
    if (!options.connects) expect(connections(), 'SSH connections to the host').toBe(seen);
    expect(emulator().state.repository(site.repository).deployments).toEqual(deployments);
  };
}

function refused(run: ActionRun): string {
  expect(run.code, run.log).toBe(1);
  expect(run.errors).toHaveLength(1);
  expect(run.errors[0]).not.toContain('\n');
  return run.errors[0]!;
}

describe('run-action checks the chain link before any host', () => {
  let site: Site;
  let v1: PublishedRelease;

  beforeAll(async () => {
    site = newSite();
    v1 = await release(site);
    const first = await deploy(site);
    expect(first.errors).toEqual([]);
  });

  it('refuses a trusted release whose previous digest is not its predecessor’s', async () => {
    const forged = { ...v1, manifestBytes: Buffer.from('{"not":"v1"}') };
    const bad = await release(site, { previous: forged });
    const check = untouched(site);
    const error = refused(await deploy(site, { 'release-id': bad.id }));
    expect(error).toBe(
      `release shop/production/${bad.id}: records v1 as ${digestOf(forged.manifestBytes)}, but v1's release.json is ${digestOf(v1.manifestBytes)}; v1 was changed after ${bad.id} was made`,
    );
    check();
  });

  it('refuses a trusted release whose predecessor was changed after it was signed', async () => {
    const changed = await release(site, {
      previous: v1,
      tamper: {
        manifest: (bytes) => Buffer.from(bytes.toString('utf8').replace('"octocat"', '"mallory"')),
      },
    });
    const next = await release(site, { previous: changed });
    const check = untouched(site);
    const error = refused(await deploy(site, { 'release-id': next.id }));
    expect(error).toBe(
      `release shop/production/${next.id}: checking its previous release: release shop/production/${changed.id} is not trusted: release.json.sig: does not match the signed bytes; the file or its signature was changed`,
    );
    check();
  });

  it('refuses a trusted release whose previous is a v999 the ledger never had', async () => {
    const ghost: PublishedRelease = {
      ...v1,
      id: 'v999',
      manifest: { ...v1.manifest, id: 'v999' } satisfies Manifest,
    };
    const bad = await release(site, { previous: ghost });
    const check = untouched(site);
    const error = refused(await deploy(site, { 'release-id': bad.id }));
    expect(error).toBe(
      `release shop/production/${bad.id}: names v999 as its previous release, but the ledger has no published release v999; the ledger was changed after this release was made`,
    );
    check();
  });
});

describe('run-action caps what a bundle may expand to (max-unpacked-size)', () => {
  it('refuses a small bundle that expands past a lowered cap, before any host', async () => {
    const site = newSite();
    const zeros = await pack(
      await appTree({ 'data/zeros.bin': Buffer.alloc(4 * 1024 * 1024) }),
      'shop',
      SHA_A,
    );
    expect(zeros.size).toBeLessThan(256 * 1024);
    const v1 = await release(site, { bundle: zeros });
    const check = untouched(site);
    const error = refused(await deploy(site, { 'release-id': v1.id, 'max-unpacked-size': '1MiB' }));
    expect(error).toMatch(
      /^release shop\/production\/v1: the bundle: expands to more than 1048576 bytes, the most allowed for it/,
    );
    check();
    // The same release under the default cap deploys.
    const run = await deploy(site, { 'release-id': v1.id });
    expect(run.errors).toEqual([]);
    expect(await readlink(path.join(site.root, 'current'))).toBe('releases/v1');
  });

  it('refuses a size it cannot read, naming the input, before any request', async () => {
    const site = newSite();
    await release(site);
    const run = await deploy(site, { 'max-unpacked-size': 'lots' });
    expect(refused(run)).toBe(
      `Input 'max-unpacked-size': expected a size of at least 1024 bytes, in bytes or with a unit (like 4GiB or 500MB), got "lots"`,
    );
    expect(run.requests).toEqual([]);
  });
});

describe('run-action parses identity and token before it reads the release', () => {
  it('an identity that is not one: refused before any request', async () => {
    const site = newSite();
    await release(site);
    const run = await deploy(site, { identity: 'AGE-SECRET-KEY-1NOPE' });
    expect(refused(run)).toMatch(/^Input 'identity': line 1: expected an age X25519 identity/);
    expect(run.requests).toEqual([]);
    expect(run.log).not.toMatch(/^(?!::add-mask::).*AGE-SECRET-KEY-1NOPE/m);
  });

  it('a token GitHub does not accept names token', async () => {
    const site = newSite();
    await release(site);
    const run = await deploy(site, { token: 'ghs_not-a-token-of-this-job' });
    expect(refused(run)).toMatch(
      /^Input 'token': GitHub did not accept it while reading the release \(401\)/,
    );
  });
});

describe('latest never moves a host backwards', () => {
  it('stops when the newest release was deleted, naming both; an explicit ID rolls back', async () => {
    const site = newSite();
    await release(site);
    const v2 = await release(site);
    expect((await deploy(site)).errors).toEqual([]);
    expect(await readlink(path.join(site.root, 'current'))).toBe('releases/v2');
    const [owner = '', repo = ''] = site.repository.split('/');
    const client = emulatorClient(emulator());
    const { data } = await client.rest.repos.getReleaseByTag({ owner, repo, tag: v2.tag });
    await client.rest.repos.deleteRelease({ owner, repo, release_id: data.id });

    const check = untouched(site, { connects: true });
    const error = refused(await deploy(site));
    expect(error).toBe(
      "Input 'release-id': latest would move hosts backwards: the hosts run v2, the newest published release is v1; deploy v1 explicitly to roll back",
    );
    check();

    const back = await deploy(site, { 'release-id': 'v1' });
    expect(back.errors).toEqual([]);
    expect(await readlink(path.join(site.root, 'current'))).toBe('releases/v1');
  });

  it('places an explicit ID after the release it links to', async () => {
    const site = newSite();
    await release(site);
    const hotfix = await release(site, { id: 'hotfix-1' });
    expect((await deploy(site, { 'release-id': hotfix.id })).errors).toEqual([]);

    const check = untouched(site, { connects: true });
    expect(refused(await deploy(site))).toBe(
      "Input 'release-id': latest would move hosts backwards: the hosts run hotfix-1, the newest published release is v1; deploy v1 explicitly to roll back",
    );
    check();

    // v2, made after the hotfix, is ahead of it: latest deploys it.
    await release(site, { id: 'v2' });
    const forward = await deploy(site);
    expect(forward.errors).toEqual([]);
    expect(await readlink(path.join(site.root, 'current'))).toBe('releases/v2');
  });
});

describe('destroy', () => {
  async function deployed(environment: string): Promise<Site> {
    const site = newSite(environment);
    await release(site);
    expect((await deploy(site)).errors).toEqual([]);
    return site;
  }

  it('refuses an environment that is not a preview unless destroy-confirm names it', async () => {
    const site = await deployed('production');
    const check = untouched(site);
    expect(refused(await deploy(site, { destroy: 'true' }))).toBe(
      "Input 'destroy': production is not a preview environment (pr-<n>): destroy would remove it from every host; to tear it down all the same, give its name again as destroy-confirm: production",
    );
    expect(refused(await deploy(site, { destroy: 'true', 'destroy-confirm': 'staging' }))).toBe(
      `Input 'destroy-confirm': expected the name of the environment destroy removes, production, got "staging"`,
    );
    expect(refused(await deploy(site, { 'destroy-confirm': 'production' }))).toBe(
      "Input 'destroy-confirm': set, but destroy is not",
    );
    check();

    const confirmed = await deploy(site, { destroy: 'true', 'destroy-confirm': 'production' });
    expect(confirmed.errors).toEqual([]);
    await expect(stat(site.root)).rejects.toThrow();
  });

  it('tears a preview down without confirming; a directory that is no deploy root names path', async () => {
    const site = await deployed('pr-7');
    // A dry run changes nothing, and a teardown has none: refused, the deploy root still there.
    const check = untouched(site);
    expect(refused(await deploy(site, { destroy: 'true', 'dry-run': 'true' }))).toBe(
      "Input 'dry-run': set with destroy, which has no dry run: nothing was stopped or removed; leave dry-run out to tear the environment down",
    );
    check();
    const torn = await deploy(site, { destroy: 'true' });
    expect(torn.errors).toEqual([]);
    await expect(stat(site.root)).rejects.toThrow();

    const other = newSite('pr-8');
    await mkdir(other.root, { recursive: true });
    await writeFile(path.join(other.root, 'keep.txt'), randomBytes(16));
    const refusedCheck = untouched(other, { connects: true });
    expect(refused(await deploy(other, { destroy: 'true' }))).toBe(
      `Input 'path': host ${host.hostLine}: ${other.root} does not look like a deploy root (no .deploy or releases inside); not removing it`,
    );
    refusedCheck();
  });
});
