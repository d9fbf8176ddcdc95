import path from 'node:path';
import { Option, type Command } from 'commander';
import {
  ConfigurationError,
  deployRoot,
  keysFor,
  jumpHost,
  knownHostsName,
  localEnv,
  parseHost,
  parseKnownHosts,
  splitLines,
  type FleetAccess,
  type Host,
} from './core.js';
import { readOptionFile } from './files.js';
import { parseWith } from './parse.js';
import type { Io } from './io.js';
import { resolveSshCredential, type SshCredential } from './ssh-credential.js';

/** The options of the commands that go to the hosts, as commander hands them over. */
export interface HostFlags {
  hosts?: string;
  hostsFile?: string;
  path?: string;
  sshKey?: string;
  knownHosts?: string;
  proxyJump?: string;
}

type SshHost = Extract<Host, { kind: 'ssh' }>;

/** The hosts and how to reach them, checked before any connection is opened. */
export interface HostAccess {
  hosts: Host[];
  /** The deploy root on every host. */
  root: string;
  /** Undefined when every host is `local`. */
  ssh:
    | {
        credential: SshCredential;
        knownHosts: string;
        knownHostsFile: string;
        /** `--proxy-jump`: the bastion the SSH hosts are reached through. */
        bastion: SshHost | undefined;
      }
    | undefined;
}

export function hostOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--hosts <list>', 'the hosts: user@host[:port], comma-separated').conflicts(
        'hostsFile',
      ),
    )
    .option('--hosts-file <file>', 'a file of hosts, one user@host[:port] a line (# comments)')
    .option('--path <dir>', 'the deploy root on the hosts (default: /srv/<app>/<environment>)')
    .option('--ssh-key <file>', 'private key (default: the ssh-agent, then ~/.ssh/id_ed25519)')
    .option(
      '--known-hosts <file>',
      "the hosts' keys, checked strictly (default: ~/.ssh/known_hosts)",
    )
    .option(
      '--proxy-jump <user@host[:port]>',
      'reach the SSH hosts through this bastion, as ssh -J does (same key, same known_hosts)',
    );
}

function hostList(
  entries: readonly string[],
  input: string,
  where: (index: number) => string,
): Host[] {
  if (entries.length === 0) {
    throw new ConfigurationError({ input, expected: 'at least one host: user@host[:port]' });
  }
  const seen = new Set<string>();
  return entries.map((entry, index) => {
    const host = parseHost(entry);
    if (!host) {
      throw new ConfigurationError({
        input,
        problem: `${where(index)} is not a host`,
        expected: 'local or user@host[:port]',
        got: entry,
      });
    }
    if (seen.has(host.label)) {
      throw new ConfigurationError({ input, problem: `${host.label} is listed twice` });
    }
    seen.add(host.label);
    return host;
  });
}

async function hostsOf(flags: HostFlags, io: Io): Promise<Host[]> {
  if (flags.hosts !== undefined) {
    const entries = flags.hosts.split(/[\s,]+/).filter((entry) => entry !== '');
    return hostList(entries, '--hosts', (index) => `entry ${index + 1}`);
  }
  if (flags.hostsFile !== undefined) {
    const text = await readOptionFile('--hosts-file', flags.hostsFile, io.cwd);
    return hostList(splitLines(text), '--hosts-file', (index) => `host ${index + 1}`);
  }
  throw new ConfigurationError({
    input: '--hosts',
    problem: 'the hosts are needed',
    expected: '--hosts user@host[:port],… or --hosts-file FILE',
  });
}

async function knownHostsOf(
  flags: HostFlags,
  ssh: readonly { host: SshHost; role: 'host' | 'bastion' }[],
  io: Io,
) {
  const file =
    flags.knownHosts ?? (io.env.HOME ? path.join(io.env.HOME, '.ssh', 'known_hosts') : undefined);
  if (file === undefined) {
    throw new ConfigurationError({
      input: '--known-hosts',
      problem: 'not given, and HOME is not set',
    });
  }
  const text = await readOptionFile('--known-hosts', file, io.cwd);
  const entries = parseKnownHosts(text);
  for (const { host, role } of ssh) {
    if (keysFor(entries, host.host, host.port).keys.length > 0) continue;
    throw new ConfigurationError({
      subject: `${role} ${host.label}`,
      problem: `is not in ${file}; host keys are always checked`,
      hint: `add ${knownHostsName(host.host, host.port)} (ssh-keyscan -p ${host.port} ${host.host} >> ${file}, then check its fingerprint)`,
    });
  }
  return { knownHosts: text, knownHostsFile: file };
}

/** Parses and checks the host options: the hosts, the deploy root, the key, known_hosts. */
export async function resolveHostAccess(
  flags: HostFlags,
  scope: { app: string; environment: string },
  io: Io,
): Promise<HostAccess> {
  const hosts = await hostsOf(flags, io);
  let root: string;
  try {
    root = deployRoot(flags.path ?? `/srv/${scope.app}/${scope.environment}`);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    throw new ConfigurationError({ ...error.problem, input: '--path' });
  }
  const ssh = hosts.flatMap((host) =>
    host.kind === 'ssh' ? [{ host, role: 'host' as const }] : [],
  );
  if (ssh.length === 0) return { hosts, root, ssh: undefined };
  const bastion =
    flags.proxyJump !== undefined
      ? parseWith(jumpHost, flags.proxyJump, '--proxy-jump')
      : undefined;
  const checked = bastion ? [...ssh, { host: bastion, role: 'bastion' as const }] : ssh;
  const known = await knownHostsOf(flags, checked, io);
  const credential = await resolveSshCredential(flags.sshKey, io);
  return { hosts, root, ssh: { credential, ...known, bastion } };
}

/** The hosts' access as shared/fleet connects with it: the key or the agent, known_hosts. */
export function fleetAccess(access: HostAccess, env: Io['env']): FleetAccess {
  const credential = access.ssh?.credential;
  const key = credential?.kind === 'key' ? credential.privateKey : undefined;
  const agent = credential?.kind === 'agent' ? { agent: credential.socket } : {};
  const bastion = access.ssh?.bastion;
  return {
    sshKey: key,
    ...(credential?.kind === 'agent' ? { sshAgent: credential.socket } : {}),
    knownHosts: access.ssh?.knownHosts,
    localEnv: localEnv(env),
    ...(bastion
      ? { proxyJump: { bastion, privateKey: key ?? '', ...agent, keyInput: 'ssh-key' as const } }
      : {}),
  };
}
