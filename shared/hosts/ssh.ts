import ssh2, { type ClientChannel, type ConnectConfig } from 'ssh2';
import { ConfigurationError } from '../errors.js';
import { shellQuote } from '../names.js';
import {
  blobKeyType,
  fingerprint,
  hostKeyAlgorithms,
  keysFor,
  knownHostsName,
  parseKnownHosts,
} from './known-hosts.js';
import {
  feed,
  OutputBuffer,
  type ExecOptions,
  type ExecResult,
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
  /** OpenSSH private key text, unencrypted (the `ssh-key` input). */
  privateKey: string;
  /** known_hosts text (the `known-hosts` input): the only keys this host may present. */
  knownHosts: string;
  connectTimeoutSeconds?: number;
  /** Seconds a command may keep its channel open after it exited (a daemon it started). */
  closeGraceSeconds?: number;
}

// ssh2 is CommonJS: Node's ESM loader sees only its default export.
const { Client, utils } = ssh2;

type HostKeyProblem = { kind: 'mismatch' | 'revoked'; offered: Buffer };

/**
 * Connects with strict host key checking: the host must be listed in `knownHosts` and present
 * one of the listed keys. Every failure is a one-line ConfigurationError naming the host.
 */
export async function connectSsh(options: SshOptions): Promise<Transport> {
  const { target } = options;
  const label = target.label;
  const key = utils.parseKey(options.privateKey);
  if (key instanceof Error || Array.isArray(key)) {
    const reason = key instanceof Error ? key.message : 'several keys';
    throw new ConfigurationError(
      `ssh-key: expected an unencrypted OpenSSH private key, could not read it (${reason})`,
    );
  }
  const known = keysFor(parseKnownHosts(options.knownHosts), target.host, target.port);
  if (known.keys.length === 0) {
    const name = knownHostsName(target.host, target.port);
    throw new ConfigurationError(
      `host ${label}: not in known-hosts; add a line for ${name} (ssh-keyscan -p ${target.port} ${target.host}, then check its fingerprint)`,
    );
  }

  const algorithms = hostKeyAlgorithms(known.keys.map((k) => k.keyType));
  if (algorithms.length === 0) {
    const types = [...new Set(known.keys.map((k) => k.keyType))].join(', ');
    throw new ConfigurationError(
      `host ${label}: known-hosts lists only ${types} keys for it; add its ssh-ed25519, ecdsa or rsa key`,
    );
  }

  const client = new Client();
  let problem: HostKeyProblem | undefined;
  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.user,
    privateKey: options.privateKey,
    readyTimeout: (options.connectTimeoutSeconds ?? 20) * 1000,
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
      reject(connectError(label, error, problem, options.connectTimeoutSeconds ?? 20));
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

  let closed = false;
  client.once('close', () => {
    closed = true;
  });
  let sent = 0;
  const grace = (options.closeGraceSeconds ?? 2) * 1000;

  return {
    label,
    get bytesSent() {
      return sent;
    },
    exec(script: string, execOptions: ExecOptions = {}): Promise<ExecResult> {
      if (closed) {
        return Promise.reject(new ConfigurationError(`host ${label}: the SSH connection was lost`));
      }
      // The login shell may not be sh; it only has to run one quoted word.
      const command = `exec /bin/sh -c ${shellQuote(script)}`;
      return new Promise<ExecResult>((resolve, reject) => {
        client.exec(command, (error, channel: ClientChannel) => {
          if (error) {
            reject(
              new ConfigurationError(`host ${label}: cannot run a command (${error.message})`),
            );
            return;
          }
          const stdout = new OutputBuffer();
          const stderr = new OutputBuffer();
          let bytesSent = 0;
          let exit: { code: number | null; signal: string | null } | undefined;
          let settled = false;
          const finish = () => {
            if (settled) return;
            settled = true;
            execOptions.signal?.removeEventListener('abort', abort);
            channel.removeAllListeners('data');
            channel.stderr.removeAllListeners('data');
            if (exit === undefined && closed) {
              reject(new ConfigurationError(`host ${label}: the SSH connection was lost`));
              return;
            }
            resolve({
              code: exit?.code ?? null,
              signal: exit?.signal ?? null,
              stdout: stdout.take(),
              stderr: stderr.take(),
              bytesSent,
            });
          };
          const abort = () => {
            try {
              channel.signal('KILL');
            } catch {
              // The channel is gone already.
            }
            channel.close();
            exit ??= { code: null, signal: 'KILL' };
            finish();
          };
          channel.on('data', (chunk: Buffer) => stdout.push(chunk));
          channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
          channel.on('error', () => undefined);
          const exited = new Promise<void>((done) => {
            channel.once('exit', (code: number | null, signal?: string) => {
              exit = { code: code ?? null, signal: signal ?? null };
              // A daemon started by the command may hold the channel open; don't wait for it long.
              setTimeout(() => {
                if (!settled) {
                  finish();
                  channel.close();
                }
              }, grace).unref();
              done();
            });
            channel.once('close', () => done());
          });
          channel.once('close', finish);
          if (execOptions.signal?.aborted) abort();
          execOptions.signal?.addEventListener('abort', abort);
          const input = execOptions.stdin;
          if (input === undefined) {
            channel.end();
          } else {
            feed(
              input,
              channel,
              (bytes) => {
                bytesSent += bytes;
                sent += bytes;
              },
              exited,
            ).catch((feedError: unknown) => {
              if (settled) return;
              settled = true;
              execOptions.signal?.removeEventListener('abort', abort);
              channel.close();
              reject(feedError instanceof Error ? feedError : new Error(String(feedError)));
            });
          }
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

function connectError(
  label: string,
  error: Error & { level?: string; code?: string },
  problem: HostKeyProblem | undefined,
  timeoutSeconds: number,
): ConfigurationError {
  if (problem) {
    const offered = `${blobKeyType(problem.offered)} ${fingerprint(problem.offered)}`;
    return new ConfigurationError(
      problem.kind === 'revoked'
        ? `host ${label}: its host key ${offered} is marked @revoked in known-hosts`
        : `host ${label}: host key ${offered} does not match known-hosts; if the host was rebuilt, update known-hosts, else someone may be in the middle`,
    );
  }
  if (error.level === 'client-authentication') {
    return new ConfigurationError(
      `host ${label}: the host refused ssh-key (authentication failed); check the user's authorized_keys`,
    );
  }
  if (error.level === 'client-timeout') {
    return new ConfigurationError(
      `host ${label}: unreachable, no SSH answer within ${timeoutSeconds} s`,
    );
  }
  const reason = error.code ?? error.message;
  return new ConfigurationError(`host ${label}: unreachable (${reason})`);
}
