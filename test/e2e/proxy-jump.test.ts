import { readFile, readlink, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useGitHub } from '../emulator/vitest.js';
import { runAction, uniqueName } from '../helpers/action.js';
import { appTree, makeKeys, pack, publishRelease, type ReleaseKeys } from '../helpers/releases.js';
import { freePort } from '../hosts/fixtures.js';
import { maskCommand } from './release-helpers.js';
import { startHost, type TestHost } from '../hosts/sshd.js';

/*
 * run-action reaching a host through a bastion, two real sshd servers: the target runs in a
 * network namespace of its own, where nothing on this machine but the bastion reaches it (the
 * bastion's sshd serves each connection inside that namespace), so a deploy that lands there
 * went through the bastion. The bastion's sshd log shows the connection it forwarded.
 */

const emulator = useGitHub();
const SHA = 'd'.repeat(40);

let target: TestHost;
let bastion: TestHost;
let keys: ReleaseKeys;
let repository: string;

beforeAll(async () => {
  target = await startHost({ isolated: true });
  [bastion, keys] = await Promise.all([startHost({ jumpTo: target }), makeKeys()]);
  repository = `acme/${uniqueName('bastion')}`;
  emulator().createRepository(repository);
  await publishRelease(emulator(), {
    repository,
    app: 'shop',
    environment: 'production',
    keys,
    id: 'v1',
    sha: SHA,
    bundle: await pack(await appTree(), 'shop', SHA),
    vars: { GREETING: 'hello through the bastion' },
  });
});

afterAll(async () => {
  await bastion?.stop();
  await target?.stop();
});

function deploy(inputs: Record<string, string | undefined>, root = uniqueName('app')) {
  return runAction({
    action: 'run-action',
    env: emulator().runnerEnv({ repository }),
    inputs: {
      environment: 'production',
      app: 'shop',
      hosts: target.hostLine,
      path: path.join(target.root, root),
      'ssh-key': target.privateKey,
      'known-hosts': target.knownHosts + bastion.knownHosts,
      'allowed-signers': keys.allowedSigners,
      'proxy-jump': bastion.hostLine,
      'health-check': 'test -f server.mjs && grep -q "hello through the bastion" .env',
      ...inputs,
    },
  });
}

/** The connections the bastion forwarded to the target, from its sshd log. */
function forwardedToTarget(): number {
  const line = new RegExp(
    `server_request_direct_tcpip: originator [^,]+, target 127\\.0\\.0\\.1 port ${target.port}$`,
    'gm',
  );
  return bastion.log().match(line)?.length ?? 0;
}

/** Runs a step that must fail: one error line, nothing on the target, no Deployment recorded. */
async function failing(inputs: Record<string, string | undefined>): Promise<string> {
  const root = uniqueName('app');
  const deployments = () => emulator().state.repository(repository).deployments.length;
  const before = deployments();
  const run = await deploy(inputs, root);
  expect(run.code).toBe(1);
  expect(run.errors).toHaveLength(1);
  expect(await readdir(target.root)).not.toContain(root);
  expect(deployments()).toBe(before);
  return run.errors[0]!;
}

describe('proxy-jump', () => {
  it('reaches a host only the bastion can reach, with the bastion’s own key', async () => {
    const root = uniqueName('app');
    const before = forwardedToTarget();
    // Straight to the target: nothing on this machine reaches it.
    expect(await failing({ 'proxy-jump': undefined })).toBe(
      `host ${target.hostLine}: unreachable (ECONNREFUSED)`,
    );

    const run = await deploy({ 'proxy-jump-key': bastion.privateKey }, root);
    expect(run.errors, run.log).toEqual([]);
    expect(await readlink(path.join(target.root, root, 'current'))).toBe('releases/v1');
    expect(forwardedToTarget()).toBe(before + 1);
    expect(run.summary).toContain('deployed to 1 host');
    // The bastion's key is masked like the hosts' key.
    expect(run.log).toContain(maskCommand(bastion.privateKey.trim()));
  });

  it('logs in to the bastion with ssh-key when no proxy-jump-key is given', async () => {
    const root = uniqueName('app');
    // The bastion accepts only its own key so far: the hosts' key is refused there, by name.
    expect(await failing({})).toBe(
      `bastion ${bastion.hostLine}: the bastion refused ssh-key (authentication failed); check the user's authorized_keys`,
    );
    const authorized = path.join(bastion.dir, 'authorized_keys');
    const own = await readFile(authorized, 'utf8');
    const hostsKey = await readFile(path.join(target.dir, 'client_key.pub'), 'utf8');
    await writeFile(authorized, own + hostsKey);
    try {
      const run = await deploy({}, root);
      expect(run.errors, run.log).toEqual([]);
      expect(await readlink(path.join(target.root, root, 'current'))).toBe('releases/v1');
    } finally {
      await writeFile(authorized, own);
    }
  });

  it('checks the bastion’s host key as strictly as the hosts’, and names the bastion', async () => {
    expect(
      await failing({ 'proxy-jump-key': bastion.privateKey, 'known-hosts': target.knownHosts }),
    ).toBe(
      `bastion ${bastion.hostLine}: not in known-hosts; add a line for [127.0.0.1]:${bastion.port} (ssh-keyscan -p ${bastion.port} 127.0.0.1, then check its fingerprint)`,
    );
    // The bastion listed with the target's key: the one it shows does not match.
    const targetKey = target.knownHosts.split(' ').slice(1).join(' ');
    const wrong = `${target.knownHosts}[127.0.0.1]:${bastion.port} ${targetKey}`;
    expect(await failing({ 'proxy-jump-key': bastion.privateKey, 'known-hosts': wrong })).toMatch(
      new RegExp(
        `^bastion ${bastion.hostLine}: host key ssh-ed25519 SHA256:[A-Za-z0-9+/]+ does not match known-hosts; if the bastion was rebuilt, update known-hosts, else someone may be in the middle$`,
      ),
    );
  });

  it('says when the bastion cannot be reached, and when the host cannot be reached through it', async () => {
    const port = await freePort();
    const nowhere = `${bastion.user}@127.0.0.1:${port}`;
    expect(
      await failing({
        'proxy-jump': nowhere,
        'proxy-jump-key': bastion.privateKey,
        'known-hosts': `${target.knownHosts}[127.0.0.1]:${port} ${bastion.knownHosts.split(' ').slice(1).join(' ')}`,
      }),
    ).toBe(`bastion ${nowhere}: unreachable (ECONNREFUSED)`);

    // A host the bastion cannot reach: that host's failure, through the bastion.
    const gone = `${target.user}@127.0.0.1:${port}`;
    expect(
      await failing({
        hosts: gone,
        'proxy-jump-key': bastion.privateKey,
        'known-hosts': `[127.0.0.1]:${port} ${target.knownHosts.split(' ').slice(1).join(' ')}${bastion.knownHosts}`,
      }),
    ).toBe(
      `host ${gone}: unreachable through bastion ${bastion.hostLine}: it cannot connect to 127.0.0.1 port ${port}`,
    );
  });

  it('refuses a malformed proxy-jump, and proxy-jump-key without it, before anything', async () => {
    expect(await failing({ 'proxy-jump': 'bastion.example.com' })).toBe(
      `Input 'proxy-jump': expected user@bastion[:port], such as deploy@bastion.example.com, got "bastion.example.com"`,
    );
    expect(await failing({ 'proxy-jump': undefined, 'proxy-jump-key': bastion.privateKey })).toBe(
      "Input 'proxy-jump-key': set, but proxy-jump is not",
    );
  });
});
