import type { Duplex } from 'node:stream';
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
  /** The bastion to reach the host through, as `ssh -J` does. */
  via?: Bastion;
}

/** A jump host, connected: it opens TCP channels to the hosts behind it. */
export interface Bastion {
  readonly label: string;
  /** A channel from the bastion to `host:port`: the socket of the connection to that host. */
  forward(target: SshTarget): Promise<Duplex>;
  close(): Promise<void>;
}

/** How long a command may keep its channel open after it exited (a daemon it started). */
const CLOSE_GRACE_MS = 2000;

type Algorithms = NonNullable<ConnectConfig['algorithms']>;

/**
 * Ciphers in the order asked for, pinned rather than left to what ssh2 makes of the CPU (it puts
 * chacha20-poly1305 first on one it finds without AES instructions): AES-GCM first, which Node's
 * OpenSSL runs on the CPU's AES instructions and which needs no separate MAC; chacha20-poly1305
 * last, since ssh2 computes its Poly1305 in WebAssembly without its native add-on, which the
 * bundled actions do not carry (`npm run bench -- ssh` compares them). A host that offers none
 * of these is refused at the handshake.
 */
const CIPHERS: Extract<Algorithms['cipher'], unknown[]> = [
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-ctr',
  'aes256-ctr',
  'chacha20-poly1305@openssh.com',
];

/** For the CTR ciphers: encrypt-then-MAC first. */
const MACS: Extract<Algorithms['hmac'], unknown[]> = [
  'hmac-sha2-256-etm@openssh.com',
  'hmac-sha2-512-etm@openssh.com',
  'hmac-sha2-256',
  'hmac-sha2-512',
];

// ssh2 is CommonJS: Node's ESM loader sees only its default export.
const { Client, utils } = ssh2;

type HostKeyProblem = { kind: 'mismatch' | 'revoked'; offered: Buffer };

/** How errors name a machine: `host <label>` for a deploy target, `bastion <label>` for a jump host. */
type Role = 'host' | 'bastion';

function hostError(
  target: SshTarget,
  problem: Omit<Problem, 'subject'>,
  role: Role = 'host',
): ConfigurationError {
  return new ConfigurationError({ subject: `${role} ${target.label}`, ...problem });
}

/** Checks a key input (`ssh-key`, `proxy-jump-key`): one unencrypted OpenSSH private key. */
export function checkSshKey(privateKey: string, input = 'ssh-key'): void {
  const key = utils.parseKey(privateKey);
  const expected = 'an unencrypted OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----)';
  if (key instanceof Error) {
    throw new ConfigurationError({ input, expected, got: key.message });
  }
  if (Array.isArray(key)) throw new ConfigurationError({ input, expected, got: 'several keys' });
  if (!key.isPrivateKey()) {
    throw new ConfigurationError({
      input,
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
  role: Role = 'host',
): { known: HostKeys; algorithms: string[] } {
  const known = keysFor(parseKnownHosts(knownHosts), target.host, target.port);
  if (known.keys.length === 0) {
    const name = knownHostsName(target.host, target.port);
    throw hostError(
      target,
      {
        problem: 'not in known-hosts',
        hint: `add a line for ${name} (ssh-keyscan -p ${target.port} ${target.host}, then check its fingerprint)`,
      },
      role,
    );
  }
  const algorithms = hostKeyAlgorithms(known.keys.map((k) => k.keyType));
  if (algorithms.length === 0) {
    const types = [...new Set(known.keys.map((k) => k.keyType))].join(', ');
    throw hostError(
      target,
      {
        problem: `known-hosts lists only ${types} keys for it`,
        hint: 'add its ssh-ed25519, ecdsa or rsa key',
      },
      role,
    );
  }
  return { known, algorithms };
}

/**
 * Connects with strict host key checking: the host must be listed in `knownHosts` and present
 * one of the listed keys. Every failure is a one-line ConfigurationError naming the host.
 */
export async function connectSsh(options: SshOptions): Promise<Transport> {
  const sock = options.via ? await options.via.forward(options.target) : undefined;
  const client = await openClient(options, { role: 'host', sock, keyInput: 'ssh-key' });
  return sshTransport(client, options.target, CLOSE_GRACE_MS);
}

/**
 * Connects to a bastion (`proxy-jump`) as strictly as to a host: listed in `knownHosts`, one of
 * its keys, `privateKey` accepted. Its failures name the bastion, apart from any host's. Hosts
 * are then reached through it with `connectSsh({ via })`, as `ssh -J` does.
 */
export async function connectBastion(
  options: Omit<SshOptions, 'via'> & { keyInput?: string },
): Promise<Bastion> {
  const bastion = options.target;
  const client = await openClient(options, { role: 'bastion', keyInput: options.keyInput });
  let closed = false;
  client.once('close', () => {
    closed = true;
  });
  return {
    label: bastion.label,
    forward: (target) =>
      new Promise<Duplex>((resolve, reject) => {
        // OpenSSH's direct-tcpip open; the originator is only informative.
        client.forwardOut('127.0.0.1', 0, target.host, target.port, (error, channel) => {
          if (!error) return resolve(channel);
          reject(
            hostError(target, {
              problem: `unreachable through bastion ${bastion.label}: ${forwardRefusal(error, target)}`,
            }),
          );
        });
      }),
    close: () => (closed ? Promise.resolve() : closeClient(client)),
  };
}

/** Why a bastion did not open a channel to a host, from the SSH open-failure reason code. */
function forwardRefusal(error: Error & { reason?: number }, target: SshTarget): string {
  const where = `${target.host} port ${target.port}`;
  if (error.reason === 1) {
    return `it does not forward to ${where} (its sshd's AllowTcpForwarding or PermitOpen)`;
  }
  if (error.reason === 2) return `it cannot connect to ${where}`;
  return `it could not open a channel to ${where} (${error.message})`;
}

/** One authenticated ssh2 client, on its own TCP connection or on `sock` (a bastion's channel). */
async function openClient(
  options: Omit<SshOptions, 'via'>,
  how: { role: Role; sock?: Duplex; keyInput?: string },
): Promise<ssh2.Client> {
  const { target } = options;
  const { role } = how;
  if (options.agent === undefined) checkSshKey(options.privateKey, how.keyInput);
  const { known, algorithms } = knownKeysFor(target, options.knownHosts, role);
  const timeoutSeconds = options.connectTimeoutSeconds ?? 20;
  const client = new Client();
  let problem: HostKeyProblem | undefined;
  const config: ConnectConfig = {
    ...(how.sock ? { sock: how.sock } : {}),
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
      serverHostKey: algorithms as Algorithms['serverHostKey'],
      cipher: CIPHERS,
      hmac: MACS,
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
      reject(
        connectError({ target, role, keyInput: how.keyInput }, error, problem, timeoutSeconds),
      );
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
  return client;
}

function closeClient(client: ssh2.Client): Promise<void> {
  return new Promise<void>((resolve) => {
    client.once('close', () => resolve());
    client.end();
  });
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
      return closed ? Promise.resolve() : closeClient(client);
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
  who: { target: SshTarget; role: Role; keyInput: string | undefined },
  error: Error & { level?: string; code?: string },
  problem: HostKeyProblem | undefined,
  timeoutSeconds: number,
): ConfigurationError {
  const { target, role } = who;
  const fail = (details: Omit<Problem, 'subject'>) => hostError(target, details, role);
  if (problem) {
    const offered = `${blobKeyType(problem.offered)} ${fingerprint(problem.offered)}`;
    return problem.kind === 'revoked'
      ? fail({ problem: `its host key ${offered} is marked @revoked in known-hosts` })
      : fail({
          problem: `host key ${offered} does not match known-hosts`,
          hint: `if the ${role} was rebuilt, update known-hosts, else someone may be in the middle`,
        });
  }
  if (error.level === 'client-authentication') {
    return fail({
      problem: `the ${role} refused ${who.keyInput ?? 'ssh-key'} (authentication failed)`,
      hint: "check the user's authorized_keys",
    });
  }
  if (error.level === 'client-timeout') {
    return fail({ problem: `unreachable, no SSH answer within ${timeoutSeconds} s` });
  }
  return fail({ problem: `unreachable (${error.code ?? error.message})` });
}
