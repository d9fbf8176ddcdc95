import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveHostAccess, type HostFlags } from '../../../cli/src/host-access.js';
import type { Io } from '../../../cli/src/io.js';
import { isEncryptedKey } from '../../../cli/src/ssh-credential.js';
import { ConfigurationError, formatError } from '../../../shared/errors.js';

/*
 * The host options of brr's host commands, parsed and checked before any connection: real key
 * files from ssh-keygen, a real ssh-agent socket, known_hosts files as ssh-keyscan writes them.
 */

const run = promisify(execFile);

let home: string;
let hostKeyLine: string;
let plainKey: string;
let encryptedKey: string;
let agent: { socket: string; stop: () => void };

async function keygen(file: string, args: string[] = []): Promise<string> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file, ...args]);
  return file;
}

const isSocket = (file: string) =>
  stat(file).then(
    (found) => found.isSocket(),
    () => false,
  );

beforeAll(async () => {
  home = await mkdtemp(path.join(tmpdir(), 'brr-home-'));
  await mkdir(path.join(home, '.ssh'));
  const keys = await mkdtemp(path.join(tmpdir(), 'brr-keys-'));
  const hostKey = await keygen(path.join(keys, 'host'));
  hostKeyLine = (await readFile(`${hostKey}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
  plainKey = await keygen(path.join(keys, 'plain'));
  encryptedKey = path.join(keys, 'encrypted');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'passphrase', '-f', encryptedKey]);
  await writeFile(
    path.join(home, '.ssh', 'known_hosts'),
    `# made by ssh-keyscan\n[127.0.0.1]:2222 ${hostKeyLine}\nweb-1.example.com ${hostKeyLine}\n`,
  );
  const socket = path.join(keys, 'agent.sock');
  const child = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(await isSocket(socket)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  agent = { socket, stop: () => child.kill() };
});

afterAll(() => agent.stop());

function io(env: Record<string, string> = {}): Io {
  return {
    env: { HOME: home, ...env },
    cwd: home,
    stdout: { write: () => true },
    stderr: { write: () => true },
    tempDir: tmpdir(),
    operator: 'alice@laptop',
  };
}

const scope = { app: 'shop', environment: 'production' };

async function refusal(flags: HostFlags, env?: Record<string, string>): Promise<string> {
  const error = await resolveHostAccess(flags, scope, io(env)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigurationError);
  return formatError(error);
}

describe('brr host options', () => {
  it('read --hosts as a comma or space separated list, and the deploy root from app and environment', async () => {
    const access = await resolveHostAccess(
      { hosts: 'deploy@127.0.0.1:2222, deploy@web-1.example.com', sshKey: plainKey },
      scope,
      io(),
    );
    expect(access.hosts.map((host) => host.label)).toEqual([
      'deploy@127.0.0.1:2222',
      'deploy@web-1.example.com',
    ]);
    expect(access.root).toBe('/srv/shop/production');
    expect(access.ssh).toMatchObject({
      credential: { kind: 'key', file: plainKey },
      knownHostsFile: path.join(home, '.ssh', 'known_hosts'),
    });
  });

  it('read --hosts-file with comments, naming a bad line by its number', async () => {
    const file = path.join(home, 'hosts');
    await writeFile(file, '# web\ndeploy@web-1.example.com\n\nlocal\n');
    const access = await resolveHostAccess(
      { hostsFile: file, sshKey: plainKey, path: 'apps/shop/' },
      scope,
      io(),
    );
    expect(access.hosts.map((host) => host.label)).toEqual(['deploy@web-1.example.com', 'local']);
    expect(access.root).toBe('./apps/shop');
    await writeFile(file, 'deploy@web-1.example.com\nroot@web 2\n');
    expect(await refusal({ hostsFile: file })).toBe(
      `Input '--hosts-file': host 2 is not a host; expected local or user@host[:port], got root@web 2`,
    );
  });

  it('refuse no hosts, a bad or repeated host, and a deploy root with ..', async () => {
    expect(await refusal({})).toBe(
      "Input '--hosts': the hosts are needed; expected --hosts user@host[:port],… or --hosts-file FILE",
    );
    expect(await refusal({ hosts: 'deploy@web;reboot' })).toMatch(
      /^Input '--hosts': entry 1 is not a host/,
    );
    expect(await refusal({ hosts: 'local,local' })).toBe("Input '--hosts': local is listed twice");
    expect(await refusal({ hosts: 'local', path: '/srv/../etc' })).toMatch(/^Input '--path': /);
  });

  it('need no key or known_hosts for the local host only', async () => {
    const access = await resolveHostAccess({ hosts: 'local' }, scope, io({ HOME: '/nonexistent' }));
    expect(access.ssh).toBeUndefined();
  });

  it('check every SSH host against known_hosts, strictly, before connecting', async () => {
    expect(await refusal({ hosts: 'deploy@127.0.0.1:2223', sshKey: plainKey })).toBe(
      `host deploy@127.0.0.1:2223: is not in ${path.join(home, '.ssh', 'known_hosts')}; host keys are always checked; add [127.0.0.1]:2223 (ssh-keyscan -p 2223 127.0.0.1 >> ${path.join(home, '.ssh', 'known_hosts')}, then check its fingerprint)`,
    );
    const other = path.join(home, 'other_known_hosts');
    await writeFile(other, `web-2.example.com ${hostKeyLine}\n`);
    const access = await resolveHostAccess(
      { hosts: 'deploy@web-2.example.com', knownHosts: other, sshKey: plainKey },
      scope,
      io(),
    );
    expect(access.ssh?.knownHostsFile).toBe(other);
    expect(
      await refusal({ hosts: 'deploy@web-2.example.com', knownHosts: path.join(home, 'nope') }),
    ).toMatch(/^Input '--known-hosts': cannot read .*nope \(ENOENT\)/);
  });

  it('take --proxy-jump as user@host[:port], checked against known_hosts like the hosts', async () => {
    const hosts = 'deploy@web-1.example.com';
    const access = await resolveHostAccess(
      { hosts, sshKey: plainKey, proxyJump: 'jump@127.0.0.1:2222' },
      scope,
      io(),
    );
    expect(access.ssh?.bastion).toMatchObject({ user: 'jump', host: '127.0.0.1', port: 2222 });
    expect(await refusal({ hosts, sshKey: plainKey, proxyJump: 'jump@bastion.example.com' })).toBe(
      `bastion jump@bastion.example.com: is not in ${path.join(home, '.ssh', 'known_hosts')}; host keys are always checked; add bastion.example.com (ssh-keyscan -p 22 bastion.example.com >> ${path.join(home, '.ssh', 'known_hosts')}, then check its fingerprint)`,
    );
    expect(await refusal({ hosts, sshKey: plainKey, proxyJump: 'bastion' })).toBe(
      `Input '--proxy-jump': expected user@bastion[:port], such as deploy@bastion.example.com, got "bastion"`,
    );
  });

  it('take the key from --ssh-key, else the ssh-agent, else ~/.ssh/id_ed25519', async () => {
    const hosts = 'deploy@web-1.example.com';
    const withAgent = await resolveHostAccess(
      { hosts },
      scope,
      io({ SSH_AUTH_SOCK: agent.socket }),
    );
    expect(withAgent.ssh?.credential).toEqual({ kind: 'agent', socket: agent.socket });
    const given = await resolveHostAccess(
      { hosts, sshKey: plainKey },
      scope,
      io({ SSH_AUTH_SOCK: agent.socket }),
    );
    expect(given.ssh?.credential.kind).toBe('key');
    expect(await refusal({ hosts }, { SSH_AUTH_SOCK: plainKey })).toMatch(
      /^Input 'SSH_AUTH_SOCK': .* is not a socket: no ssh-agent listens there/,
    );
    expect(await refusal({ hosts })).toBe(
      "Input '--ssh-key': no SSH key: not given, no ssh-agent (SSH_AUTH_SOCK is not set), and no ~/.ssh/id_ed25519; pass --ssh-key FILE, or add the key to an ssh-agent",
    );
    await writeFile(path.join(home, '.ssh', 'id_ed25519'), await readFile(plainKey));
    const fallback = await resolveHostAccess({ hosts }, scope, io());
    expect(fallback.ssh?.credential).toMatchObject({
      kind: 'key',
      file: path.join(home, '.ssh', 'id_ed25519'),
    });
  });

  it('send an encrypted key to the agent, and refuse what is not a key', async () => {
    const hosts = 'deploy@web-1.example.com';
    expect(await refusal({ hosts, sshKey: encryptedKey })).toBe(
      `Input '--ssh-key': ${encryptedKey} is encrypted with a passphrase; add it to the agent (ssh-add ${encryptedKey}) and run without --ssh-key`,
    );
    expect(await refusal({ hosts, sshKey: `${plainKey}.pub` })).toMatch(
      /is not a private key ssh2 can read/,
    );
  });
});

describe('isEncryptedKey', () => {
  it('reads the cipher of OpenSSH keys and the header of PEM keys, as ssh-keygen writes them', async () => {
    expect(isEncryptedKey(await readFile(plainKey, 'utf8'))).toBe(false);
    expect(isEncryptedKey(await readFile(encryptedKey, 'utf8'))).toBe(true);
    const pem = path.join(await mkdtemp(path.join(tmpdir(), 'brr-pem-')), 'key');
    await run('ssh-keygen', ['-q', '-t', 'ecdsa', '-m', 'PEM', '-N', 'passphrase', '-f', pem]);
    expect(isEncryptedKey(await readFile(pem, 'utf8'))).toBe(true);
  });
});
