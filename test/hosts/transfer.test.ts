import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployToHost } from './fixtures.js';
import type { Transport } from '../../shared/host/transport.js';
import { silentLog } from '../../shared/log.js';
import { appFiles, releaseOf, tarBuffer, type BundleFile } from './bundles.js';
import { appDeploy, connect, freePort, appEnv } from './fixtures.js';
import { startHost, type TestHost } from './sshd.js';

/*
 * The transfer over SSH to a real sshd: a release is built from the one before, files edited on
 * the host never carried forward, pruning frees only what no kept release uses, and the SSH
 * connection asks for the ciphers that move bytes fastest.
 */

const MiB = 1024 * 1024;

describe('a release built from the one before, over SSH', () => {
  let host: TestHost;
  let ssh: Transport;
  let port: number;
  const big = randomBytes(2 * MiB);
  const app = (extra: BundleFile[]) =>
    appFiles([{ name: 'lib/big.bin', content: big }, ...extra]).then(tarBuffer);
  const releases = () => path.join(host.root, 'releases');

  beforeAll(async () => {
    host = await startHost();
    ssh = await connect(host);
    port = await freePort();
  });
  afterAll(async () => {
    await ssh?.close();
    await host?.stop();
  });

  const deploy = async (id: string, bundle: Buffer) =>
    deployToHost(ssh, appDeploy(host.root, await releaseOf(id, bundle, appEnv(port, id))));

  it('sends only what changed and links the rest; a file edited in the base travels again', async () => {
    const data = { name: 'lib/data.txt', content: 'shipped data\n' };
    const same = { name: 'lib/same-size.txt', content: 'shipped bytes\n' };
    const first = await deploy('v1', await app([data, same]));
    expect(first.result).toBe('activated');
    expect(first.bytesSent).toBeGreaterThan(2 * MiB);

    // Edited on the host: one file written over, one rewritten in place with its mtime set back.
    await writeFile(path.join(releases(), 'v1/lib/data.txt'), 'edited on the host\n');
    const sameFile = path.join(releases(), 'v1/lib/same-size.txt');
    const before = await stat(sameFile);
    await writeFile(sameFile, 'shipped BYTES\n');
    await utimes(sameFile, before.atime, before.mtime);

    const second = await deploy(
      'v2',
      await app([data, same, { name: 'lib/new.txt', content: 'new in v2\n' }]),
    );
    expect(second.result).toBe('activated');
    expect(second.bytesSent).toBeLessThan(first.bytesSent / 20);
    const v1 = path.join(releases(), 'v1');
    const v2 = path.join(releases(), 'v2');
    expect(await readFile(path.join(v2, 'lib/data.txt'), 'utf8')).toBe('shipped data\n');
    expect(await readFile(path.join(v2, 'lib/same-size.txt'), 'utf8')).toBe('shipped bytes\n');
    expect(await readFile(path.join(v1, 'lib/data.txt'), 'utf8')).toBe('edited on the host\n');
    for (const [name, linked] of [
      ['lib/big.bin', true],
      ['server.mjs', true],
      ['lib/data.txt', false],
      ['lib/same-size.txt', false],
    ] as const) {
      const [a, b] = await Promise.all([stat(path.join(v1, name)), stat(path.join(v2, name))]);
      expect(a.ino === b.ino, name).toBe(linked);
    }
    const reference = unpacked(
      await app([data, same, { name: 'lib/new.txt', content: 'new in v2\n' }]),
    );
    try {
      expect(tree(v2)).toBe(tree(reference));
    } finally {
      execFileSync('rm', ['-rf', reference]);
    }
  });
});

describe('pruning releases that share files', () => {
  let host: TestHost;
  let ssh: Transport;

  beforeAll(async () => {
    host = await startHost();
    ssh = await connect(host);
  });
  afterAll(async () => {
    await ssh?.close();
    await host?.stop();
  });

  it('frees only what no kept release uses', async () => {
    const shared = randomBytes(MiB);
    const deploy = async (id: string) =>
      deployToHost(ssh, {
        ...appDeploy(host.root, await releaseOf(id, await releaseBundle(shared, id), {})),
        restart: undefined,
        healthCheck: undefined,
        sharedPaths: [],
        keep: 2,
        log: silentLog,
      });
    for (const id of ['v1', 'v2']) expect((await deploy(id)).pruned).toEqual([]);
    const releases = path.join(host.root, 'releases');
    expect(diskKiB(releases)).toBeLessThan(3 * 1024 + 200);
    expect((await deploy('v3')).pruned).toEqual(['v1']);

    // v1's own file is gone; the file all three shared stays, whole, in the two kept.
    expect(diskKiB(releases)).toBeGreaterThan(3 * 1024);
    expect(diskKiB(releases)).toBeLessThan(3 * 1024 + 200);
    for (const id of ['v2', 'v3']) {
      const file = path.join(releases, id, 'shared.bin');
      expect((await readFile(file)).equals(shared)).toBe(true);
      expect((await stat(file)).nlink).toBe(2);
      expect((await readFile(path.join(releases, id, 'own.bin'))).length).toBe(MiB);
    }
  });
});

describe('the SSH connection', () => {
  it('asks for AES-GCM first, and still reaches a host that offers only chacha20-poly1305', async () => {
    for (const [ciphers, expected] of [
      [undefined, 'aes128-gcm@openssh.com'],
      ['chacha20-poly1305@openssh.com', 'chacha20-poly1305@openssh.com'],
    ] as const) {
      const host = await startHost({
        config: ['LogLevel DEBUG1', ...(ciphers ? [`Ciphers ${ciphers}`] : [])],
      });
      try {
        const ssh = await connect(host);
        expect((await ssh.exec('echo reached')).stdout.toString()).toBe('reached\n');
        await ssh.close();
        expect(host.log()).toMatch(new RegExp(`client->server cipher: ${expected} `));
      } finally {
        await host.stop();
      }
    }
  });
});

/** A release of a file every release shares and a file of its own, 1 MiB each. */
function releaseBundle(shared: Buffer, id: string): Promise<Buffer> {
  return tarBuffer([
    { name: 'shared.bin', content: shared },
    { name: 'own.bin', content: Buffer.alloc(MiB, id) },
  ]);
}

function diskKiB(directory: string): number {
  return Number(execFileSync('du', ['-sk', directory], { encoding: 'utf8' }).split('\t')[0]);
}

/** A plain tar unpacked by the host's tar in a directory of its own. */
function unpacked(tar: Buffer): string {
  const dir = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
  execFileSync('tar', ['-xf', '-', '-C', dir], { input: tar });
  return dir;
}

/** Kinds, modes, sizes, link targets and digests of a release's files, but its own and shared. */
function tree(root: string): string {
  const script = [
    'cd "$1" && find . -mindepth 1 \\( -path ./.release -o -path ./.env -o -path ./run -o -path ./log \\) -prune',
    '-o -printf "%p %y %m %s %l\\n" | LC_ALL=C sort',
    '&& find . \\( -path ./.release -o -path ./.env \\) -prune -o -type f -exec sha256sum {} + | LC_ALL=C sort',
  ].join(' ');
  return execFileSync('sh', ['-c', script, 'sh', root], { encoding: 'utf8' });
}
