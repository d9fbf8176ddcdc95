import { ConfigurationError, formatError } from '../errors.js';
import { localTransport } from '../host/local.js';
import { checkSshKey, connectSsh, knownKeysFor } from '../host/ssh.js';
import type { Transport } from '../host/transport.js';
import type { Host } from '../names.js';
import { mapLimit } from './parallel.js';

export interface HostAccess {
  /** The `ssh-key` input. */
  sshKey: string | undefined;
  /** An ssh-agent's socket to sign with instead of `sshKey` (brr's default). */
  sshAgent?: string;
  /** The `known-hosts` input. */
  knownHosts: string | undefined;
  /** The environment of commands on the `local` host: never the action's own, which holds its inputs. */
  localEnv: Record<string, string>;
}

/** Variables the `local` host's commands get: enough to find tools, none of the action's inputs. */
const LOCAL_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

/** The environment of the `local` host's commands, picked from the runner's. */
export function localEnv(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of LOCAL_ENV) {
    const value = env[name];
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

/**
 * Refuses what would stop a connection before anything is downloaded or contacted: a missing or
 * unreadable `ssh-key`, a missing `known-hosts`, a host it does not list.
 */
export function checkHostAccess(hosts: readonly Host[], access: HostAccess): void {
  const ssh = hosts.flatMap((host) => (host.kind === 'ssh' ? [host] : []));
  if (ssh.length === 0) return;
  const names = ssh.map((host) => host.label).join(', ');
  if (access.knownHosts === undefined) {
    throw new ConfigurationError({
      input: 'known-hosts',
      problem: `required for SSH hosts (${names})`,
      hint: 'give their known_hosts lines (ssh-keyscan, then check the fingerprints); host keys are always checked',
    });
  }
  if (access.sshAgent === undefined) {
    if (access.sshKey === undefined) {
      throw new ConfigurationError({
        input: 'ssh-key',
        problem: `required for SSH hosts (${names})`,
        hint: 'the private key the deploy user logs in with',
      });
    }
    checkSshKey(access.sshKey);
  }
  for (const host of ssh) knownKeysFor(host, access.knownHosts);
}

export interface Connection {
  host: Host;
  transport: Transport;
}

/**
 * Connects to every host, at most `parallel` at once. All or nothing: when one cannot be reached,
 * the others are closed and nothing is deployed anywhere. The error names each failing host.
 */
async function connectHosts(
  hosts: readonly Host[],
  access: HostAccess,
  parallel: number,
): Promise<Connection[]> {
  const outcomes = await mapLimit(hosts, parallel, async (host) => {
    if (host.kind === 'local') {
      return { host, transport: localTransport({ env: access.localEnv }) };
    }
    const transport = await connectSsh({
      target: host,
      privateKey: access.sshKey ?? '',
      ...(access.sshAgent !== undefined ? { agent: access.sshAgent } : {}),
      knownHosts: access.knownHosts ?? '',
    });
    return { host, transport };
  });
  const failed = outcomes.flatMap((outcome) =>
    outcome.status === 'rejected' ? [outcome.reason as unknown] : [],
  );
  const connected = outcomes.flatMap((outcome) =>
    outcome.status === 'fulfilled' ? [outcome.value] : [],
  );
  if (failed.length === 0) return connected;
  await closeAll(connected);
  if (failed.length === 1 && failed[0] instanceof Error) throw failed[0];
  throw new ConfigurationError({
    problem: `${failed.length} of ${hosts.length} hosts cannot be used, nothing was deployed: ${failed.map(formatError).join('; ')}`,
  });
}

async function closeAll(connections: readonly Connection[]): Promise<void> {
  await Promise.all(connections.map((c) => c.transport.close().catch(() => undefined)));
}

/** The hosts of one step: connected when first needed, closed once at the end. */
export interface Fleet {
  connections(): Promise<Connection[]>;
  close(): Promise<void>;
}

export function openFleet(hosts: readonly Host[], access: HostAccess, parallel: number): Fleet {
  let connecting: Promise<Connection[]> | undefined;
  return {
    connections: () => (connecting ??= connectHosts(hosts, access, parallel)),
    close: async () => {
      const connections = await connecting?.catch(() => []);
      if (connections) await closeAll(connections);
    },
  };
}
