import { execFileSync, spawn } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { TestHost } from '../test/hosts/sshd.js';

/*
 * Bytes on the wire, counted the same way for every client: each host is reached through a TCP
 * proxy in the benchmark that forwards to its sshd and counts the bytes of every connection in
 * both directions. What it counts is what a network between the runner and the host would
 * carry (the SSH packets: encrypted payload, padding, MACs, key exchange), whichever client made
 * them (ssh2 in run-action, OpenSSH's ssh, rsync over ssh). OpenSSH 9.2's sshd logs no byte
 * counts, and the proxy costs every client the same copy through this process.
 */

export interface CountingProxy {
  port: number;
  /** Bytes from clients to the host since the last reset. */
  readonly up: number;
  /** Bytes from the host to clients since the last reset. */
  readonly down: number;
  reset(): void;
  close(): Promise<void>;
}

export async function countingProxy(targetPort: number): Promise<CountingProxy> {
  let up = 0;
  let down = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      // The clients chose their own batching; the proxy must not add Nagle's delay to it.
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk: Buffer) => (up += chunk.length));
    upstream.on('data', (chunk: Buffer) => (down += chunk.length));
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address && typeof address === 'object') resolve(address.port);
      else reject(new Error('no port'));
    });
  });
  return {
    port,
    get up() {
      return up;
    },
    get down() {
      return down;
    },
    reset() {
      up = 0;
      down = 0;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A test host reached through its counting proxy. */
export interface ProxiedHost {
  host: TestHost;
  proxy: CountingProxy;
  /** The `hosts` line and known_hosts text naming the proxy's port. */
  hostLine: string;
  knownHosts: string;
  /** OpenSSH's `ssh` with its options, without the destination, for baselines. */
  ssh: string[];
  /** The destination for `ssh` and rsync: `user@127.0.0.1`. */
  login: string;
}

export async function proxied(host: TestHost): Promise<ProxiedHost> {
  const proxy = await countingProxy(host.port);
  const knownHosts = host.knownHosts.replace(`:${host.port} `, `:${proxy.port} `);
  const key = join(host.dir, 'bench_key');
  const known = join(host.dir, 'bench_known_hosts');
  await writeFile(key, host.privateKey);
  await chmod(key, 0o600);
  // Both ports: the experiments of bench/ssh.ts also reach the host directly.
  await writeFile(known, host.knownHosts + knownHosts);
  const ssh = [
    'ssh',
    '-F',
    '/dev/null',
    '-i',
    key,
    '-o',
    `UserKnownHostsFile=${known}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-p',
    String(proxy.port),
  ];
  const login = `${host.user}@127.0.0.1`;
  return { host, proxy, hostLine: `${login}:${proxy.port}`, knownHosts, ssh, login };
}

export interface Measured {
  seconds: number;
  up: number;
  down: number;
}

/** Runs a bash script (its arguments as $1…) and times it; throws with its stderr on failure. */
export function bash(script: string, args: string[]): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -euo pipefail\n${script}`, 'bench', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve((performance.now() - started) / 1000)
        : reject(new Error(`bash exited with ${code}: ${stderr}`)),
    );
  });
}

/**
 * Writes back what earlier steps left in the page cache, so a step is not charged for the disk
 * writes of the one before it (removing or unpacking a tree while another one is flushed).
 */
export function settle(): void {
  execFileSync('sync');
}

/** Times `work` and counts what went through the host's proxy meanwhile. */
export async function onWire(target: ProxiedHost, work: () => Promise<unknown>): Promise<Measured> {
  settle();
  target.proxy.reset();
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  return { seconds, up: target.proxy.up, down: target.proxy.down };
}
