import { execFileSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, formatError } from '../../../../shared/errors.js';
import { checkSshKey, knownKeysFor } from '../../../../shared/host/ssh.js';
import { sshKey } from '../../../helpers/keys.js';

function refusal(check: () => void): string {
  try {
    check();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return formatError(error);
  }
  throw new Error('expected a refusal');
}

describe('the ssh-key input', () => {
  it('takes an unencrypted OpenSSH private key', async () => {
    const key = await sshKey();
    expect(() => checkSshKey(key.privateKey)).not.toThrow();
  });

  it('refuses a public key in one line naming ssh-key and what to give instead', async () => {
    const key = await sshKey();
    expect(refusal(() => checkSshKey(key.publicKey))).toBe(
      "Input 'ssh-key': expected an unencrypted OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----), got a ssh-ed25519 public key; give the private half of the key pair; the public half goes in the host user’s authorized_keys",
    );
  });

  it('refuses a key protected by a passphrase, and text that is no key', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'brr-ssh-key-'));
    const file = path.join(dir, 'key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret', '-f', file]);
    const encrypted = refusal(() => checkSshKey(execFileSync('cat', [file], { encoding: 'utf8' })));
    expect(encrypted).toMatch(
      /^Input 'ssh-key': expected an unencrypted OpenSSH private key .*passphrase/,
    );
    expect(refusal(() => checkSshKey('not a key'))).toMatch(
      /^Input 'ssh-key': expected an unencrypted OpenSSH private key .*, got Unsupported key format$/,
    );
  });
});

describe('known-hosts, before any connection', () => {
  const target = {
    user: 'deploy',
    host: 'web-1.example.com',
    port: 2222,
    label: 'deploy@web-1.example.com:2222',
  };

  it('names the host that is not listed and how to list it', () => {
    expect(refusal(() => knownKeysFor(target, ''))).toBe(
      'host deploy@web-1.example.com:2222: not in known-hosts; add a line for [web-1.example.com]:2222 (ssh-keyscan -p 2222 web-1.example.com, then check its fingerprint)',
    );
  });

  it('asks the host only for the key types listed for it', async () => {
    const key = await sshKey();
    const line = `[web-1.example.com]:2222 ${key.publicKey.split(' ').slice(0, 2).join(' ')}\n`;
    expect(knownKeysFor(target, line).algorithms).toEqual(['ssh-ed25519']);
    expect(refusal(() => knownKeysFor(target, `[web-1.example.com]:2222 ssh-dss AAAA\n`))).toBe(
      'host deploy@web-1.example.com:2222: known-hosts lists only ssh-dss keys for it; add its ssh-ed25519, ecdsa or rsa key',
    );
  });
});
