import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../../shared/errors.js';
import { checkHostAccess } from '../../../../shared/fleet/connect.js';
import { parseHost, type Host } from '../../../../shared/names.js';
import { sshKey } from '../../../helpers/keys.js';

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
    const key = await sshKey();
    const hostKey = key.publicKey.split(' ').slice(0, 2).join(' ');
    const access = {
      sshKey: key.privateKey,
      knownHosts: `web-1.example.com ${hostKey}\n`,
      localEnv: {},
    };
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
