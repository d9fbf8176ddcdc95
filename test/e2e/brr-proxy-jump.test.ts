import { readFile, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useGitHub } from '../emulator/vitest.js';
import { runAction, uniqueName } from '../helpers/action.js';
import { brr, emulatorEnv, tempFile } from '../helpers/brr.js';
import { appTree, makeKeys, pack, publishRelease, type ReleaseKeys } from '../helpers/releases.js';
import { startHost, type TestHost } from '../hosts/sshd.js';

/*
 * brr's host commands through a bastion (`--proxy-jump`), two real sshd servers: the target runs
 * in a network namespace of its own that only the bastion reaches, so an answer from it came
 * through the bastion. One key and one known_hosts serve both, as `ssh -J` uses them.
 */

const emulator = useGitHub();
const SHA = 'e'.repeat(40);
const ROOT = uniqueName('app');

let target: TestHost;
let bastion: TestHost;
let keys: ReleaseKeys;
let repository: string;
let files: { key: string; knownHosts: string; allowedSigners: string };

beforeAll(async () => {
  target = await startHost({ isolated: true });
  [bastion, keys] = await Promise.all([startHost({ jumpTo: target }), makeKeys()]);
  // The bastion accepts the target's key: one key for both, as on an operator's laptop.
  const key = await readFile(path.join(target.dir, 'client_key.pub'), 'utf8');
  await writeFile(path.join(bastion.dir, 'authorized_keys'), key, { flag: 'a' });
  files = {
    key: await tempFile('id_ed25519', target.privateKey),
    knownHosts: await tempFile('known_hosts', target.knownHosts + bastion.knownHosts),
    allowedSigners: await tempFile('allowed_signers', keys.allowedSigners),
  };
  repository = `acme/${uniqueName('bastion')}`;
  emulator().createRepository(repository);
  const bundle = await pack(await appTree(), 'shop', SHA);
  for (const id of ['v1', 'v2']) {
    await publishRelease(emulator(), {
      repository,
      app: 'shop',
      environment: 'production',
      keys,
      id,
      sha: SHA,
      bundle,
      vars: { GREETING: `hello from ${id}` },
    });
    const run = await runAction({
      action: 'run-action',
      env: emulator().runnerEnv({ repository }),
      inputs: {
        environment: 'production',
        app: 'shop',
        'release-id': id,
        hosts: target.hostLine,
        path: path.join(target.root, ROOT),
        'ssh-key': target.privateKey,
        'known-hosts': target.knownHosts + bastion.knownHosts,
        'allowed-signers': keys.allowedSigners,
        'proxy-jump': bastion.hostLine,
      },
    });
    if (run.code !== 0) throw new Error(run.errors.join('; '));
  }
});

afterAll(async () => {
  await bastion?.stop();
  await target?.stop();
});

function hostArgs(...extra: string[]): string[] {
  return [
    '--repo',
    repository,
    '--app',
    'shop',
    '--hosts',
    target.hostLine,
    '--path',
    path.join(target.root, ROOT),
    '--ssh-key',
    files.key,
    '--known-hosts',
    files.knownHosts,
    ...extra,
  ];
}

/** The connections the bastion forwarded to the target, from its sshd log. */
function forwarded(): number {
  const line = new RegExp(
    `server_request_direct_tcpip: originator [^,]+, target 127\\.0\\.0\\.1 port ${target.port}$`,
    'gm',
  );
  return bastion.log().match(line)?.length ?? 0;
}

describe('brr --proxy-jump', () => {
  it('reads and rolls back a host only the bastion reaches', async () => {
    const env = emulatorEnv(emulator());
    const direct = await brr(['status', 'production', ...hostArgs(), '--json'], { env });
    expect(direct.code).toBe(1);
    expect(direct.stderr.trimEnd()).toBe(`host ${target.hostLine}: unreachable (ECONNREFUSED)`);

    const before = forwarded();
    const jump = ['--proxy-jump', bastion.hostLine];
    const status = await brr(['status', 'production', ...hostArgs(...jump), '--json'], { env });
    expect(status).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(status.stdout)).toMatchObject({
      release: 'v2',
      hosts: [{ host: target.hostLine, current: 'v2', previous: 'v1' }],
    });

    const args = [...hostArgs(...jump), '--allowed-signers', files.allowedSigners];
    const rollback = await brr(['rollback', 'production', ...args, '--restart', 'true', '--json'], {
      env,
    });
    expect(rollback).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(rollback.stdout)).toMatchObject({
      release: { id: 'v1', checkedAgainst: 'ledger' },
      hosts: [{ before: 'v2', after: 'v1', result: 'rolled-back' }],
    });
    expect(await readlink(path.join(target.root, ROOT, 'current'))).toBe('releases/v1');
    expect(forwarded()).toBe(before + 2);
  });
});
