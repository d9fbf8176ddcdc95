import ssh2, { type ClientChannel, type ConnectConfig } from 'ssh2';
import { ConfigurationError, type Problem } from '../errors.js';
import { shellQuote } from '../names.js';
import {
  blobKeyType,
  fingerprint,
  hostKeyAlgorithms,
  keysFor,
  knownHostsName,
  parseKnownHosts,
  type HostKeys,
} from './known-hosts.js';
import {
  awaitCommand,
  type ExecOptions,
  type ExecResult,
  type StartedCommand,
  type Transport,
} from './transport.js';

export interface SshTarget {
  user: string;
  host: string;
  port: number;
  /** How errors name the host, e.g. the `hosts` line. */
  label: string;
}

export interface SshOptions {
  target: SshTarget;
  /** OpenSSH private key text, unencrypted (the `ssh-key` input); unused with `agent`. */
  privateKey: string;
  /** An ssh-agent's socket that signs instead: brr, on a person's machine, keeps keys there. */
  agent?: string;
  /** known_hosts text (the `known-hosts` input): the only keys this host may present. */
  knownHosts: string;
  /** Default 20. */
  connectTimeoutSeconds?: number;
}

/** How long a command may keep its channel open after it exited (a daemon it started). */
const CLOSE_GRACE_MS = 2000;

// ssh2 is CommonJS: Node's ESM loader sees only its default export.
const { Client, utils } = ssh2;

type HostKeyProblem = { kind: 'mismatch' | 'revoked'; offered: Buffer };

function hostError(target: SshTarget, problem: Omit<Problem, 'subject'>): ConfigurationError {
  return new ConfigurationError({ subject: `host ${target.label}`, ...problem });
}

/** Checks the `ssh-key` input: one unencrypted OpenSSH private key. */
export function checkSshKey(privateKey: string): void {
  const key = utils.parseKey(privateKey);
  const expected = 'an unencrypted OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----)';
  if (key instanceof Error) {
    throw new ConfigurationError({ input: 'ssh-key', expected, got: key.message });
  }
  if (Array.isArray(key))
    throw new ConfigurationError({ input: 'ssh-key', expected, got: 'several keys' });
  if (!key.isPrivateKey()) {
    throw new ConfigurationError({
      input: 'ssh-key',
      expected,
      got: `a ${key.type} public key`,
      hint: 'give the private half of the key pair; the public half goes in the host user’s authorized_keys',
    });
  }
}

/**
 * The keys `known-hosts` lists for a host and the host key algorithms to ask it for, so a host
 * with several keys shows a listed one. A host it does not list is refused before any connection.
 */
export function knownKeysFor(
  target: SshTarget,
  knownHosts: string,
): { known: HostKeys; algorithms: string[] } {
  const known = keysFor(parseKnownHosts(knownHosts), target.host, target.port);
  if (known.keys.length === 0) {
    const name = knownHostsName(target.host, target.port);
    throw hostError(target, {
      problem: 'not in known-hosts',
      hint: `add a line for ${name} (ssh-keyscan -p ${target.port} ${target.host}, then check its fingerprint)`,
    });
  }
  const algorithms = hostKeyAlgorithms(known.keys.map((k) => k.keyType));
  if (algorithms.length === 0) {
    const types = [...new Set(known.keys.map((k) => k.keyType))].join(', ');
    throw hostError(target, {
      problem: `known-hosts lists only ${types} keys for it`,
      hint: 'add its ssh-ed25519, ecdsa or rsa key',
    });
  }
  return { known, algorithms };
}

/**
 * Connects with strict host key checking: the host must be listed in `knownHosts` and present
 * one of the listed keys. Every failure is a one-line ConfigurationError naming the host.
 */
export async function connectSsh(options: SshOptions): Promise<Transport> {
  const { target } = options;
  if (options.agent === undefined) checkSshKey(options.privateKey);
  const { known, algorithms } = knownKeysFor(target, options.knownHosts);
  const timeoutSeconds = options.connectTimeoutSeconds ?? 20;
  const client = new Client();
  let problem: HostKeyProblem | undefined;
  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.user,
    ...(options.agent !== undefined
      ? { agent: options.agent }
      : { privateKey: options.privateKey }),
    readyTimeout: timeoutSeconds * 1000,
    keepaliveInterval: 10_000,
    keepaliveCountMax: 3,
    algorithms: {
      serverHostKey: algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'],
    },
    hostVerifier: (offered: Buffer) => {
      if (known.revoked.some((k) => k.equals(offered))) {
        problem = { kind: 'revoked', offered };
        return false;
      }
      if (known.keys.some((k) => k.key.equals(offered))) return true;
      problem = { kind: 'mismatch', offered };
      return false;
    },
  };

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error & { level?: string; code?: string }) => {
      client.removeListener('ready', onReady);
      client.end();
      reject(connectError(target, error, problem, timeoutSeconds));
    };
    const onReady = () => {
      client.removeListener('error', onError);
      // Nagle's delay meets the host's delayed ACK on every small request: 40 ms stalls per command.
      client.setNoDelay(true);
      resolve();
    };
    // Errors after the first (a timeout, then the socket closing) and after the connection is up
    // surface through the call in use; unheard, they would crash the process.
    client.on('error', () => undefined);
    client.once('error', onError);
    client.once('ready', onReady);
    client.connect(config);
  });
  return sshTransport(client, target, CLOSE_GRACE_MS);
}

function sshTransport(client: ssh2.Client, target: SshTarget, graceMs: number): Transport {
  let closed = false;
  client.once('close', () => {
    closed = true;
  });
  let sent = 0;
  const lost = () => hostError(target, { problem: 'the SSH connection was lost' });
  return {
    label: target.label,
    get bytesSent() {
      return sent;
    },
    exec(script: string, execOptions: ExecOptions = {}): Promise<ExecResult> {
      if (closed) return Promise.reject(lost());
      // The login shell may not be sh; it only has to run one quoted word.
      const command = `exec /bin/sh -c ${shellQuote(script)}`;
      return new Promise<ExecResult>((resolve, reject) => {
        client.exec(command, (error, channel) => {
          if (error) {
            reject(hostError(target, { problem: 'cannot run a command', got: error.message }));
            return;
          }
          // Listens at once: a quick command's exit can arrive with the channel itself.
          awaitCommand(
            channelCommand(channel, () => (closed ? lost() : undefined)),
            {
              ...execOptions,
              graceMs,
              count: (bytes) => (sent += bytes),
            },
          ).then(resolve, reject);
        });
      });
    },
    close() {
      if (closed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        client.once('close', () => resolve());
        client.end();
      });
    },
  };
}

function channelCommand(channel: ClientChannel, lost: () => Error | undefined): StartedCommand {
  return {
    events: channel,
    stdout: channel,
    stderr: channel.stderr,
    stdin: channel,
    kill: () => {
      try {
        channel.signal('KILL');
      } catch {
        // The channel is gone already.
      }
      channel.close();
    },
    release: () => {
      channel.removeAllListeners('data');
      channel.stderr.removeAllListeners('data');
      channel.close();
    },
    lost,
  };
}

function connectError(
  target: SshTarget,
  error: Error & { level?: string; code?: string },
  problem: HostKeyProblem | undefined,
  timeoutSeconds: number,
): ConfigurationError {
  if (problem) {
    const offered = `${blobKeyType(problem.offered)} ${fingerprint(problem.offered)}`;
    return problem.kind === 'revoked'
      ? hostError(target, { problem: `its host key ${offered} is marked @revoked in known-hosts` })
      : hostError(target, {
          problem: `host key ${offered} does not match known-hosts`,
          hint: 'if the host was rebuilt, update known-hosts, else someone may be in the middle',
        });
  }
  if (error.level === 'client-authentication') {
    return hostError(target, {
      problem: 'the host refused ssh-key (authentication failed)',
      hint: "check the user's authorized_keys",
    });
  }
  if (error.level === 'client-timeout') {
    return hostError(target, { problem: `unreachable, no SSH answer within ${timeoutSeconds} s` });
  }
  return hostError(target, { problem: `unreachable (${error.code ?? error.message})` });
}
