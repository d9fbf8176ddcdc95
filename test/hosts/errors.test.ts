import { execFileSync } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../shared/errors.js';
import { deployToHost } from './fixtures.js';
import { rollbackHost } from '../../shared/host/rollback.js';
import { connectSsh } from '../../shared/host/ssh.js';
import { silentLog } from '../../shared/log.js';
import { appFiles, releaseOf, tarBuffer } from './bundles.js';
import {
  appDeploy,
  appEnv,
  connect,
  currentOf,
  freePort,
  historyOf,
  snapshotTree,
} from './fixtures.js';
import { exists } from '../helpers/files.js';
import { startHost, type TestHost } from './sshd.js';

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigurationError);
  const message = (error as Error).message;
  expect(message).not.toContain('\n');
  return error as Error;
}

describe('SSH connection problems, each one line naming the host', () => {
  let host: TestHost;
  let other: TestHost;

  beforeAll(async () => {
    [host, other] = await Promise.all([startHost(), startHost()]);
  });
  afterAll(async () => {
    await Promise.all([host?.stop(), other?.stop()]);
  });

  it('connects with a hashed known_hosts line', async () => {
    const file = path.join(host.dir, 'known_hosts_hashed');
    await writeFile(file, host.knownHosts);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    const hashed = await readFile(file, 'utf8');
    expect(hashed).toMatch(/^\|1\|/);
    const ssh = await connect(host, { knownHosts: hashed });
    expect((await ssh.exec('echo ok')).stdout.toString()).toBe('ok\n');
    await ssh.close();
  });

  it('refuses a host whose key differs from known-hosts', async () => {
    // The other host's key, listed under this host's name: what a man in the middle looks like.
    const wrong = other.knownHosts.replace(`]:${other.port} `, `]:${host.port} `);
    const accepted = () => host.log().split('Accepted publickey').length;
    const before = accepted();
    const error = await failure(connect(host, { knownHosts: wrong }));
    expect(error.message).toMatch(
      new RegExp(
        `^host ${host.hostLine}: host key ssh-ed25519 SHA256:[A-Za-z0-9+/]+ does not match known-hosts; if the host was rebuilt, update known-hosts`,
      ),
    );
    // Refused before the client key was ever offered.
    expect(accepted()).toBe(before);
  });

  it('refuses a host that known-hosts does not list', async () => {
    const error = await failure(connect(host, { knownHosts: other.knownHosts }));
    expect(error.message).toBe(
      `host ${host.hostLine}: not in known-hosts; add a line for [127.0.0.1]:${host.port} (ssh-keyscan -p ${host.port} 127.0.0.1, then check its fingerprint)`,
    );
  });

  it('says so when the host refuses the key', async () => {
    const error = await failure(connect(host, { privateKey: other.privateKey }));
    expect(error.message).toBe(
      `host ${host.hostLine}: the host refused ssh-key (authentication failed); check the user's authorized_keys`,
    );
  });

  it('says so when nothing answers', async () => {
    const port = await freePort();
    const error = await failure(
      connect({
        ...host,
        port,
        hostLine: `${host.user}@127.0.0.1:${port}`,
        knownHosts: `[127.0.0.1]:${port} ${host.knownHosts.split(' ').slice(1).join(' ')}`,
      }),
    );
    expect(error.message).toBe(`host ${host.user}@127.0.0.1:${port}: unreachable (ECONNREFUSED)`);
  });

  it('gives up on a host that accepts the connection but never speaks SSH', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const started = performance.now();
      const error = await failure(
        connectSsh({
          target: {
            user: host.user,
            host: '127.0.0.1',
            port,
            label: `${host.user}@127.0.0.1:${port}`,
          },
          privateKey: host.privateKey,
          knownHosts: `[127.0.0.1]:${port} ${host.knownHosts.split(' ').slice(1).join(' ')}`,
          connectTimeoutSeconds: 1,
        }),
      );
      expect(error.message).toBe(
        `host ${host.user}@127.0.0.1:${port}: unreachable, no SSH answer within 1 s`,
      );
      expect((performance.now() - started) / 1000).toBeLessThan(3);
    } finally {
      silent.close();
    }
  });

  it('says which key input is wrong when the private key cannot be read', async () => {
    const error = await failure(connect(host, { privateKey: 'not a key' }));
    expect(error.message).toMatch(/^Input 'ssh-key': expected an unencrypted OpenSSH private key/);
  });
});

describe('hosts that cannot take a release', () => {
  let bundle: Buffer;
  beforeAll(async () => {
    bundle = await tarBuffer(await appFiles());
  });

  it('reports a host without tar before switching anything', async () => {
    const host = await startHost({ withoutTools: ['tar'] });
    try {
      const ssh = await connect(host);
      expect((await ssh.exec('command -v tar || echo none')).stdout.toString()).toBe('none\n');
      const error = await failure(
        deployToHost(ssh, appDeploy(host.root, await releaseOf('v1', bundle, appEnv(1, 'x')))),
      );
      expect(error.message).toBe(
        `host ${host.hostLine}: tar is not installed or not on the PATH; the host needs POSIX sh and tar`,
      );
      expect(await currentOf(host.root)).toBeUndefined();
      expect(await exists(path.join(host.root, 'releases'))).toBe(false);
      expect(await exists(path.join(host.root, '.deploy/lock'))).toBe(false);
      await ssh.close();
    } finally {
      await host.stop();
    }
  });

  it('reports a full disk, switches nothing and frees what the partial upload took', async () => {
    const host = await startHost({ diskBytes: 4 * 1024 * 1024 });
    try {
      const ssh = await connect(host);
      const port = await freePort();
      await deployToHost(
        ssh,
        appDeploy(host.root, await releaseOf('v1', bundle, appEnv(port, 'one'))),
      );
      const before = snapshotTree(path.join(host.root, 'releases'));
      const big = await tarBuffer(
        await appFiles([{ name: 'big.bin', content: Buffer.alloc(8 * 1024 * 1024, 1) }]),
      );
      const error = await failure(
        deployToHost(ssh, appDeploy(host.root, await releaseOf('v2', big, appEnv(port, 'two')))),
      );
      expect(error.message).toBe(
        `host ${host.hostLine}: no space left on device under ${host.root} while unpacking v2`,
      );
      expect(await currentOf(host.root)).toBe('releases/v1');
      expect(await readdir(path.join(host.root, 'releases'))).toEqual(['v1']);
      expect(snapshotTree(path.join(host.root, 'releases'))).toBe(before);
      expect((await historyOf(host.root)).map((e) => e.release)).toEqual(['v1']);
      expect(await exists(path.join(host.root, '.deploy/lock'))).toBe(false);
      // Room again: a rollback onto v1 needs none, and works.
      const back = await rollbackHost(ssh, {
        root: host.root,
        to: 'v1',
        healthTimeoutSeconds: 5,
        lock: { holder: 'test', waitSeconds: 0 },
        log: silentLog,
      });
      expect(back.result).toBe('rolled-back');
      await ssh.close();
    } finally {
      await host.stop();
    }
  });
});
