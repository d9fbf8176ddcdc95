import { execFileSync } from 'node:child_process';
import { readFile, readlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { stageDeploy, type DeployOptions } from '../../shared/host/deploy.js';
import type { HostResult } from '../../shared/host/activate.js';
import type { HostRelease } from '../../shared/host/transfer.js';
import { parseHistory, type HistoryEvent } from '../../shared/host/history.js';
import { connectSsh } from '../../shared/host/ssh.js';
import type { Transport } from '../../shared/host/transport.js';
import { silentLog } from '../../shared/log.js';
import type { TestHost } from './sshd.js';

/** The node the sample app runs with: this one, readable by the deploy user. */
export const NODE = process.execPath;

export function connect(
  host: TestHost,
  overrides: { privateKey?: string; knownHosts?: string } = {},
): Promise<Transport> {
  return connectSsh({
    target: { user: host.user, host: host.host, port: host.port, label: host.hostLine },
    privateKey: overrides.privateKey ?? host.privateKey,
    knownHosts: overrides.knownHosts ?? host.knownHosts,
    connectTimeoutSeconds: 5,
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        address && typeof address === 'object'
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

export function appEnv(
  port: number,
  greeting: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { PORT: String(port), GREETING: greeting, NODE, ...extra };
}

/** Options for the sample app: restart and health check as examples/app/README.md says. */
export function appDeploy(
  root: string,
  release: HostRelease,
  overrides: Partial<DeployOptions> = {},
): DeployOptions {
  return {
    root,
    release,
    restart: 'bin/restart',
    healthCheck: 'bin/health',
    healthTimeoutSeconds: 10,
    healthIntervalSeconds: 0.2,
    keep: 5,
    sharedPaths: ['run', 'log'],
    lock: { holder: 'test', run: 'https://github.com/o/r/actions/runs/1', waitSeconds: 0 },
    log: silentLog,
    ...overrides,
  };
}

export async function ask(
  port: number,
): Promise<{ greeting: string; release: string; pid: number }> {
  const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) });
  return (await response.json()) as { greeting: string; release: string; pid: number };
}

export async function currentOf(root: string): Promise<string | undefined> {
  try {
    return await readlink(path.join(root, 'current'));
  } catch {
    return undefined;
  }
}

export async function historyOf(root: string): Promise<HistoryEvent[]> {
  try {
    return parseHistory(await readFile(path.join(root, '.deploy/history'), 'utf8'));
  } catch {
    return [];
  }
}

/** Every file under a directory with its mode and content digest: to show a host is unchanged. */
export function snapshotTree(dir: string): string {
  return execFileSync(
    'sh',
    ['-c', 'cd "$1" && find . -printf "%p %y %m %s %l\\n" | sort', 'sh', dir],
    {
      encoding: 'utf8',
    },
  );
}

/** Both halves of a deploy at once, as run-action does them for a host with no release phase. */
export async function deployToHost(
  transport: Transport,
  options: DeployOptions,
): Promise<HostResult> {
  return (await stageDeploy(transport, options)).activate();
}
