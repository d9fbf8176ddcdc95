import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../../shared/errors.js';
import { checkHostAccess, proxyJumpOf } from '../../../../shared/fleet/connect.js';
import { jumpHost, parseHost, type Host } from '../../../../shared/names.js';
import { sshKey } from '../../../helpers/keys.js';

/** A key, and access to web-1.example.com with it as both the user key and the host key. */
async function web1Access() {
  const key = await sshKey();
  const hostKey = key.publicKey.split(' ').slice(0, 2).join(' ');
  const access = {
    sshKey: key.privateKey,
    knownHosts: `web-1.example.com ${hostKey}\n`,
    localEnv: {},
  };
  return { key, hostKey, access };
}

describe('host access', () => {
  const ssh = parseHost('deploy@web-1.example.com') as Host;
  const local = parseHost('local') as Host;

  it('needs known-hosts and ssh-key for SSH hosts, nothing for local', () => {
    expect(() =>
      checkHostAccess([local], { sshKey: undefined, knownHosts: undefined, localEnv: {} }),
    ).not.toThrow();
    expect(() =>
      checkHostAccess([local, ssh], { sshKey: 'k', knownHosts: undefined, localEnv: {} }),
    ).toThrow(
      new ConfigurationError({
        input: 'known-hosts',
        problem: 'required for SSH hosts (deploy@web-1.example.com)',
        hint: 'give their known_hosts lines (ssh-keyscan, then check the fingerprints); host keys are always checked',
      }),
    );
    expect(() =>
      checkHostAccess([ssh], { sshKey: undefined, knownHosts: 'x', localEnv: {} }),
    ).toThrow(/^Input 'ssh-key': required for SSH hosts \(deploy@web-1\.example\.com\)/);
  });

  it('reads the key and finds every SSH host in known-hosts before any connection', async () => {
    const { key, access } = await web1Access();
    expect(() => checkHostAccess([local, ssh], access)).not.toThrow();
    expect(() => checkHostAccess([ssh], { ...access, sshKey: key.publicKey })).toThrow(
      /^Input 'ssh-key': expected an unencrypted OpenSSH private key/,
    );
    const other = parseHost('deploy@web-2.example.com') as Host;
    expect(() => checkHostAccess([ssh, other], access)).toThrow(
      /^host deploy@web-2\.example\.com: not in known-hosts; add a line for web-2\.example\.com /,
    );
  });
});

describe('proxy-jump', () => {
  const ssh = parseHost('deploy@web-1.example.com') as Host;
  const bastion = jumpHost.parse('jump@bastion.example.com:2200');

  it('reads user@bastion[:port], and refuses anything else naming the input', () => {
    expect(bastion).toMatchObject({ user: 'jump', host: 'bastion.example.com', port: 2200 });
    for (const bad of ['local', 'bastion.example.com', 'jump@bastion:99999', '-oProxyCommand=x']) {
      const parsed = jumpHost.safeParse(bad);
      expect(parsed.success, bad).toBe(false);
      expect(parsed.error?.issues[0]?.message).toBe(
        `expected user@bastion[:port], such as deploy@bastion.example.com, got ${JSON.stringify(bad)}`,
      );
    }
  });

  it('logs in to the bastion with ssh-key unless proxy-jump-key is given', () => {
    expect(proxyJumpOf({ bastion, proxyJumpKey: undefined, sshKey: 'k' })).toEqual({
      bastion,
      privateKey: 'k',
      keyInput: 'ssh-key',
    });
    expect(proxyJumpOf({ bastion, proxyJumpKey: 'j', sshKey: 'k' })).toMatchObject({
      privateKey: 'j',
      keyInput: 'proxy-jump-key',
    });
    expect(proxyJumpOf({ bastion: undefined, proxyJumpKey: undefined, sshKey: 'k' })).toBe(
      undefined,
    );
    expect(() => proxyJumpOf({ bastion: undefined, proxyJumpKey: 'j', sshKey: 'k' })).toThrow(
      "Input 'proxy-jump-key': set, but proxy-jump is not",
    );
  });

  it('checks the bastion in known-hosts and its key before any connection, naming the bastion', async () => {
    const { key, hostKey, access } = await web1Access();
    const jump = proxyJumpOf({ bastion, proxyJumpKey: undefined, sshKey: key.privateKey })!;
    expect(() => checkHostAccess([ssh], { ...access, proxyJump: jump })).toThrow(
      'bastion jump@bastion.example.com:2200: not in known-hosts; add a line for [bastion.example.com]:2200 (ssh-keyscan -p 2200 bastion.example.com, then check its fingerprint)',
    );
    const listed = {
      ...access,
      knownHosts: `${access.knownHosts}[bastion.example.com]:2200 ${hostKey}\n`,
    };
    expect(() => checkHostAccess([ssh], { ...listed, proxyJump: jump })).not.toThrow();
    const badKey = proxyJumpOf({ bastion, proxyJumpKey: key.publicKey, sshKey: key.privateKey })!;
    expect(() => checkHostAccess([ssh], { ...listed, proxyJump: badKey })).toThrow(
      /^Input 'proxy-jump-key': expected an unencrypted OpenSSH private key/,
    );
  });
});
