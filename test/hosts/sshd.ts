import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The account test hosts log in as when the tests run as root: a real, unprivileged user. */
export const DEPLOY_USER = 'brr-deploy';

export interface HostOptions {
  /** Tools left off the PATH of SSH sessions, e.g. ['tar'] for a host without tar. */
  withoutTools?: string[];
  /** Mounts a tmpfs of this many bytes on the deploy root: a host whose disk fills up. */
  diskBytes?: number;
  /**
   * Sessions start in the host's `root` instead of the user's home, so hosts on this machine can
   * share one relative `path` (a fleet whose hosts all deploy to `app`, each under its own root).
   */
  ownWorkingDirectory?: boolean;
  /**
   * Logs in as this existing account instead (root only), authorized by its own
   * ~/.ssh/authorized_keys with sshd's default StrictModes: a host set up by hand, as a page of
   * docs says. `privateKey` is then a key that account does not accept.
   */
  user?: string;
  /** sshd_config lines of the test's own, before the defaults (sshd keeps a keyword's first value). */
  config?: string[];
  /** sshd runs in a network namespace of its own (root only): only a bastion reaches it. */
  isolated?: boolean;
  /**
   * This host is a bastion for `jumpTo`, an isolated host: each connection is served by `sshd -i`
   * inside that host's network namespace (as inetd would), so the connections it forwards reach
   * that host, and the bastion is the only way there.
   */
  jumpTo?: TestHost;
}

export interface TestHost {
  user: string;
  host: '127.0.0.1';
  port: number;
  /** The `hosts` line: `user@127.0.0.1:port`. */
  hostLine: string;
  /** The client's private key, OpenSSH text, authorized on this host. */
  privateKey: string;
  /** A known_hosts line for this host: `[127.0.0.1]:port ssh-ed25519 …`. */
  knownHosts: string;
  /** The deploy root, an absolute path the user owns. */
  root: string;
  /** The uid and gid the sessions run as. */
  uid: number;
  gid: number;
  /** Scratch directory holding the host's keys and config; removed by stop(). */
  dir: string;
  /** An isolated host's network namespace, `/proc/<pid>/ns/net`. */
  netns?: string;
  /** The sshd log (its stderr), for failing tests. */
  log(): string;
  /** Ends every open SSH connection, as a network that drops them would; new ones still work. */
  dropConnections(): Promise<number>;
  /** The host goes away: its connections drop and new ones are refused, until `comeBack`. */
  goDown(): Promise<void>;
  /** Listens again on the same port, with the same keys. */
  comeBack(): Promise<void>;
  /** Stops sshd, ends the processes left running in the deploy root, removes everything. */
  stop(): Promise<void>;
}

interface Account {
  user: string;
  uid: number;
  gid: number;
}

let accountPromise: Promise<Account> | undefined;

/** Root runs sshd as a real server would and logs in as a dedicated user; others log in as themselves. */
function account(): Promise<Account> {
  accountPromise ??= (async () => {
    const me = userInfo();
    if (me.uid !== 0) return { user: me.username, uid: me.uid, gid: me.gid };
    for (let attempt = 0; ; attempt++) {
      const found = await lookupUser(DEPLOY_USER);
      if (found) return found;
      try {
        // '*' rather than the default '!': sshd without PAM refuses a locked account.
        await run('useradd', ['-m', '-s', '/bin/sh', '-p', '*', DEPLOY_USER]);
      } catch (error) {
        // Test files start in parallel workers; another one may be adding the user right now.
        if (attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  })();
  return accountPromise;
}

async function existingAccount(name: string): Promise<Account> {
  if (process.getuid?.() !== 0) throw new Error(`logging in as ${name} needs root`);
  const found = await lookupUser(name);
  if (!found) throw new Error(`no account ${name} on this machine`);
  return found;
}

async function lookupUser(name: string): Promise<Account | undefined> {
  try {
    const { stdout } = await run('id', ['-u', name]);
    const { stdout: gid } = await run('id', ['-g', name]);
    return { user: name, uid: Number(stdout.trim()), gid: Number(gid.trim()) };
  } catch {
    return undefined;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

async function keygen(file: string): Promise<void> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', file]);
}

/** A directory of links to every tool on the usual PATH except the ones named. */
async function pathWithout(dir: string, tools: string[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  const seen = new Set(tools);
  for (const source of ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    let names: string[];
    try {
      names = await readdir(source);
    } catch {
      continue;
    }
    for (const name of names) {
      if (seen.has(name)) continue;
      seen.add(name);
      await symlink(path.join(source, name), path.join(dir, name));
    }
  }
  return dir;
}

/**
 * Starts a real OpenSSH server on 127.0.0.1 with fresh host and client keys and its own deploy
 * root. Each call is a separate host; stop() undoes everything it did.
 */
export async function startHost(options: HostOptions = {}): Promise<TestHost> {
  const who = options.user ? await existingAccount(options.user) : await account();
  const dir = await mkdtemp(path.join(tmpdir(), 'brr-host-'));
  // The deploy user must reach its root below this directory.
  await chmod(dir, 0o755);
  await Promise.all([keygen(path.join(dir, 'host_key')), keygen(path.join(dir, 'client_key'))]);
  const clientPublic = await readFile(path.join(dir, 'client_key.pub'), 'utf8');
  await writeFile(path.join(dir, 'authorized_keys'), clientPublic);
  const hostPublic = (await readFile(path.join(dir, 'host_key.pub'), 'utf8')).trim();

  const root = path.join(dir, 'root');
  await mkdir(root);
  let mounted = false;
  if (options.diskBytes !== undefined) {
    if (process.getuid?.() !== 0) throw new Error('a small disk needs root to mount a tmpfs');
    await run('mount', [
      '-t',
      'tmpfs',
      '-o',
      `size=${options.diskBytes},mode=0755,uid=${who.uid},gid=${who.gid}`,
      'tmpfs',
      root,
    ]);
    mounted = true;
  }
  await chown(root, who.uid, who.gid);

  const setEnv = options.withoutTools?.length
    ? [`SetEnv PATH=${await pathWithout(path.join(dir, 'bin'), options.withoutTools)}`]
    : [];
  if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  let server: Server | undefined;
  let port = 0;
  let stderr = '';
  const log = (chunk: string) => (stderr += chunk);
  const config = path.join(dir, 'sshd_config');
  const listen = () =>
    options.jumpTo
      ? inetd(port, config, namespaceOf(options.jumpTo), log)
      : daemon(config, options.isolated ?? false, log);
  for (let attempt = 0; attempt < 5 && !server; attempt++) {
    port = await freePort();
    await writeFile(
      config,
      [
        ...(options.config ?? []),
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${path.join(dir, 'host_key')}`,
        'PidFile none',
        ...(options.user
          ? ['AuthorizedKeysFile .ssh/authorized_keys', 'StrictModes yes']
          : [`AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`, 'StrictModes no']),
        'UsePAM no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        `AllowUsers ${who.user}`,
        'PermitRootLogin prohibit-password',
        'MaxSessions 50',
        'MaxStartups 50',
        // A bastion logs each connection it forwards (direct-tcpip) at DEBUG1.
        `LogLevel ${options.jumpTo ? 'DEBUG1' : 'VERBOSE'}`,
        ...setEnv,
        ...(options.ownWorkingDirectory
          ? [`ForceCommand cd ${root} && exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"`]
          : []),
        '',
      ].join('\n'),
    );
    stderr = '';
    server = await listen();
  }
  if (!server) throw new Error(`sshd found no free port: ${stderr}`);
  let running = server;

  /** The sessions below the listener, and every process below them, from one process table. */
  const sessionTrees = async () => {
    const parents = await parentsOfAll();
    const childrenOf = (pid: number | undefined) =>
      [...parents].flatMap(([child, parent]) => (parent === pid ? [child] : []));
    const sessions = childrenOf(running.pid);
    const all = [...sessions];
    for (let i = 0; i < all.length; i++) all.push(...childrenOf(all[i]));
    return { sessions, all };
  };
  const killAll = (pids: readonly (number | undefined)[]) => {
    for (const pid of pids) {
      try {
        if (pid !== undefined) process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  };
  /**
   * Ends every connection the host has open, as a network that drops them would: each is a tree
   * of sshd processes (and what the session runs) below the listener, all killed at once.
   */
  const dropConnections = async () => {
    const { sessions, all } = await sessionTrees();
    killAll(all);
    return sessions.length;
  };

  return {
    user: who.user,
    host: '127.0.0.1',
    port,
    hostLine: `${who.user}@127.0.0.1:${port}`,
    privateKey: await readFile(path.join(dir, 'client_key'), 'utf8'),
    knownHosts: `[127.0.0.1]:${port} ${hostPublic}\n`,
    root,
    uid: who.uid,
    gid: who.gid,
    dir,
    ...(running.netns ? { netns: running.netns } : {}),
    log: () => stderr,
    dropConnections,
    async goDown() {
      // The listener and its sessions in one go, so that no client connects again in between.
      const { all } = await sessionTrees();
      killAll([running.pid, ...all]);
      await running.stop();
    },
    async comeBack() {
      const again = await listen();
      if (!again) throw new Error(`sshd did not start again: ${stderr}`);
      running = again;
    },
    async stop() {
      await running.stop();
      await endProcessesUnder(root);
      if (mounted) await run('umount', ['-l', root]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A running sshd: a daemon, or a listener handing each connection to `sshd -i`. */
interface Server {
  netns?: string;
  /** The daemon's pid: each connection is a process below it. */
  pid?: number;
  stop(): Promise<void>;
}

function namespaceOf(host: TestHost): string {
  if (!host.netns)
    throw new Error(`${host.hostLine} is not isolated: start it with isolated: true`);
  return host.netns;
}

/** `sshd -D`, in a network namespace of its own when `isolated`; undefined when its port was taken. */
async function daemon(
  config: string,
  isolated: boolean,
  log: (chunk: string) => void,
): Promise<Server | undefined> {
  const sshd = ['/usr/sbin/sshd', '-D', '-e', '-f', config];
  // unshare execs the shell, which execs sshd: the child's pid is sshd's, its namespace sshd's.
  const child = isolated
    ? spawn('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...sshd], {
        stdio: ['ignore', 'ignore', 'pipe'],
      })
    : spawn(sshd[0]!, sshd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const listening = await new Promise<boolean>((resolve) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      log(chunk);
      if (stderr.includes('Server listening on')) resolve(true);
    });
    child.once('exit', () => resolve(false));
  });
  if (!listening) {
    if (/Bind to port|Cannot bind|Address already in use/.test(stderr)) return undefined;
    throw new Error(`sshd did not start: ${stderr}`);
  }
  return {
    ...(isolated ? { netns: `/proc/${child.pid}/ns/net` } : {}),
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
    stop: () => endChild(child),
  };
}

/**
 * Listens on 127.0.0.1:`port` and serves each connection with `sshd -i` in the network namespace
 * `netns`, the socket as its stdin and stdout, as inetd does.
 */
async function inetd(
  port: number,
  config: string,
  netns: string,
  log: (chunk: string) => void,
): Promise<Server | undefined> {
  const children = new Set<ChildProcess>();
  const listener = createServer({ pauseOnConnect: true }, (socket) => {
    const child = spawn('nsenter', [`--net=${netns}`, '/usr/sbin/sshd', '-i', '-e', '-f', config], {
      stdio: [socket, socket, 'pipe'],
    });
    // The child holds its own copy of the socket.
    socket.destroy();
    children.add(child);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', log);
    child.once('exit', () => children.delete(child));
  });
  const listening = await new Promise<boolean>((resolve, reject) => {
    listener.once('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EADDRINUSE' ? resolve(false) : reject(error),
    );
    listener.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (!listening) return undefined;
  return {
    async stop() {
      await new Promise((resolve) => listener.close(resolve));
      await Promise.all([...children].map(endChild));
    },
  };
}

async function endChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Every process's parent, from one pass over /proc. */
async function parentsOfAll(): Promise<Map<number, number>> {
  const entries = (await readdir('/proc')).filter((entry) => /^[0-9]+$/.test(entry));
  const parents = new Map<number, number>();
  await Promise.all(
    entries.map(async (entry) => {
      try {
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
        // The fourth field, after the parenthesised command name (which may hold spaces).
        parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      } catch {
        // Gone already.
      }
    }),
  );
  return parents;
}

/** Ends the processes (the sample app, a stray restart) whose working directory is in `root`. */
export async function endProcessesUnder(root: string): Promise<number[]> {
  const ended: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let cwd: string;
    try {
      cwd = await readlink(`/proc/${entry}/cwd`);
    } catch {
      continue;
    }
    if (cwd === root || cwd.startsWith(`${root}/`)) {
      try {
        process.kill(pid, 'SIGKILL');
        ended.push(pid);
      } catch {
        // Gone already.
      }
    }
  }
  return ended;
}
