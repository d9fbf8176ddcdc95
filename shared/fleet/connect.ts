import { ConfigurationError, formatError } from '../errors.js';
import { localTransport } from '../host/local.js';
import {
  checkSshKey,
  connectBastion,
  connectSsh,
  knownKeysFor,
  type Bastion,
  type SshTarget,
} from '../host/ssh.js';
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
  /** The bastion every SSH host is reached through (`proxy-jump`), as `ssh -J` does. */
  proxyJump?: ProxyJump;
}

export interface ProxyJump {
  bastion: SshTarget;
  /** The key it accepts: `proxy-jump-key`, else the `ssh-key`; unused with `agent`. */
  privateKey: string;
  /** An ssh-agent's socket that signs instead (brr's default, as for the hosts). */
  agent?: string;
  /** The input that key came from, for errors. */
  keyInput: 'proxy-jump-key' | 'ssh-key';
}

/** The `proxy-jump` inputs as access to the bastion: its own key, or the hosts' `ssh-key`. */
export function proxyJumpOf(inputs: {
  bastion: SshTarget | undefined;
  proxyJumpKey: string | undefined;
  sshKey: string | undefined;
}): ProxyJump | undefined {
  const { bastion, proxyJumpKey } = inputs;
  if (bastion === undefined) {
    if (proxyJumpKey === undefined) return undefined;
    throw new ConfigurationError({
      input: 'proxy-jump-key',
      problem: 'set, but proxy-jump is not',
    });
  }
  return proxyJumpKey !== undefined
    ? { bastion, privateKey: proxyJumpKey, keyInput: 'proxy-jump-key' }
    : { bastion, privateKey: inputs.sshKey ?? '', keyInput: 'ssh-key' };
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
  const jump = access.proxyJump;
  if (jump) {
    if (jump.agent === undefined) checkSshKey(jump.privateKey, jump.keyInput);
    knownKeysFor(jump.bastion, access.knownHosts, 'bastion');
  }
}

export interface Connection {
  host: Host;
  /** The host's transport: the one made by `reconnect` once it was called. */
  readonly transport: Transport;
  /**
   * Connects to the host again after its connection dropped, and uses that from then on: to
   * release a lock and read back what the host runs. The `local` host keeps its transport.
   */
  reconnect(): Promise<Transport>;
}

/** How long a connection made again may take: the host was just there, or is gone. */
const RECONNECT_TIMEOUT_SECONDS = 10;

/** How a host is reached: the access inputs, and the bastion when there is one. */
interface Route {
  access: HostAccess;
  bastion: Bastion | undefined;
}

function connectTo(host: Host, route: Route, timeoutSeconds?: number): Promise<Transport> {
  const { access, bastion } = route;
  if (host.kind === 'local') return Promise.resolve(localTransport({ env: access.localEnv }));
  return connectSsh({
    target: host,
    privateKey: access.sshKey ?? '',
    ...(access.sshAgent !== undefined ? { agent: access.sshAgent } : {}),
    knownHosts: access.knownHosts ?? '',
    ...(bastion ? { via: bastion } : {}),
    ...(timeoutSeconds !== undefined ? { connectTimeoutSeconds: timeoutSeconds } : {}),
  });
}

function connection(host: Host, first: Transport, route: Route): Connection {
  let transport = first;
  return {
    host,
    get transport() {
      return transport;
    },
    async reconnect() {
      if (host.kind === 'local') return transport;
      const fresh = await connectTo(host, route, RECONNECT_TIMEOUT_SECONDS);
      const old = transport;
      transport = fresh;
      await old.close().catch(() => undefined);
      return fresh;
    },
  };
}

/**
 * Connects to every host, at most `parallel` at once, through the bastion when there is one. All
 * or nothing: when one cannot be reached, the others are closed and nothing is deployed anywhere.
 * The error names each failing host, or the bastion.
 */
async function connectHosts(
  hosts: readonly Host[],
  access: HostAccess,
  parallel: number,
  bastion: Bastion | undefined,
): Promise<Connection[]> {
  const outcomes = await mapLimit(hosts, parallel, async (host) =>
    connection(host, await connectTo(host, { access, bastion }), { access, bastion }),
  );
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

/** Connects to the bastion of `access`, when there is one and an SSH host needs it. */
async function connectProxyJump(
  hosts: readonly Host[],
  access: Pick<HostAccess, 'knownHosts' | 'proxyJump'>,
): Promise<Bastion | undefined> {
  const jump = access.proxyJump;
  if (!jump || !hosts.some((host) => host.kind === 'ssh')) return undefined;
  return connectBastion({
    target: jump.bastion,
    privateKey: jump.privateKey,
    ...(jump.agent !== undefined ? { agent: jump.agent } : {}),
    knownHosts: access.knownHosts ?? '',
    keyInput: jump.keyInput,
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
  let bastion: Promise<Bastion | undefined> | undefined;
  let connecting: Promise<Connection[]> | undefined;
  const connect = async () => {
    bastion = connectProxyJump(hosts, access);
    const via = await bastion;
    try {
      return await connectHosts(hosts, access, parallel, via);
    } catch (error) {
      await via?.close();
      throw error;
    }
  };
  return {
    connections: () => (connecting ??= connect()),
    close: async () => {
      const connections = await connecting?.catch(() => []);
      if (connections) await closeAll(connections);
      await (await bastion?.catch(() => undefined))?.close();
    },
  };
}
