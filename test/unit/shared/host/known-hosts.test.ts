import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fingerprint,
  hostKeyAlgorithms,
  keysFor,
  knownHostsName,
  parseKnownHosts,
  patternsMatch,
} from '../../../../shared/host/known-hosts.js';

let dir: string;
let keyA: string;
let keyB: string;

async function publicKey(name: string): Promise<string> {
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    '',
    '-f',
    path.join(dir, name),
  ]);
  return (await readFile(path.join(dir, `${name}.pub`), 'utf8')).trim();
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'brr-kh-'));
  keyA = await publicKey('a');
  keyB = await publicKey('b');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const blob = (line: string) => Buffer.from(line.split(' ')[1] ?? '', 'base64');

describe('known_hosts', () => {
  it('names hosts as OpenSSH does: bare on port 22, [host]:port elsewhere', () => {
    expect(knownHostsName('example.com', 22)).toBe('example.com');
    expect(knownHostsName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
  });

  it('finds the keys for a host in plain lines and ignores comments and other hosts', () => {
    const text = `# fleet\n[127.0.0.1]:2222 ${keyA}\n127.0.0.1 ${keyB}\nweb1,web2 ${keyB}\n`;
    const entries = parseKnownHosts(text);
    expect(keysFor(entries, '127.0.0.1', 2222).keys.map((k) => k.key)).toEqual([blob(keyA)]);
    expect(keysFor(entries, '127.0.0.1', 22).keys.map((k) => k.key)).toEqual([blob(keyB)]);
    expect(keysFor(entries, 'web2', 22).keys).toHaveLength(1);
    expect(keysFor(entries, 'web3', 22).keys).toHaveLength(0);
  });

  it('matches hashed lines made by ssh-keygen -H', async () => {
    const file = path.join(dir, 'known_hosts');
    await writeFile(file, `[127.0.0.1]:2222 ${keyA}\nexample.com ${keyB}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    const hashed = await readFile(file, 'utf8');
    expect(hashed).toMatch(/^\|1\|/);
    expect(hashed).not.toContain('example.com');
    const entries = parseKnownHosts(hashed);
    expect(keysFor(entries, '127.0.0.1', 2222).keys.map((k) => k.key)).toEqual([blob(keyA)]);
    expect(keysFor(entries, 'example.com', 22).keys.map((k) => k.key)).toEqual([blob(keyB)]);
    expect(keysFor(entries, 'example.org', 22).keys).toHaveLength(0);
  });

  it('understands wildcards and negation, and keeps @revoked keys apart', () => {
    expect(patternsMatch('*.example.com,!db.example.com', 'web.example.com')).toBe(true);
    expect(patternsMatch('*.example.com,!db.example.com', 'db.example.com')).toBe(false);
    expect(patternsMatch('web?', 'web1')).toBe(true);
    expect(patternsMatch('web?', 'web12')).toBe(false);
    expect(patternsMatch('a.b', 'axb')).toBe(false);
    const entries = parseKnownHosts(
      `@revoked * ${keyB}\n*.example.com ${keyA}\n@cert-authority * ${keyA}\n`,
    );
    const keys = keysFor(entries, 'web.example.com', 22);
    expect(keys.keys.map((k) => k.key)).toEqual([blob(keyA)]);
    expect(keys.revoked).toEqual([blob(keyB)]);
  });

  it('prints fingerprints as ssh-keygen -l does, and offers the algorithms of the listed keys', () => {
    const printed = execFileSync('ssh-keygen', ['-l', '-f', path.join(dir, 'a.pub')], {
      encoding: 'utf8',
    });
    expect(printed).toContain(fingerprint(blob(keyA)));
    expect(hostKeyAlgorithms(['sk-ssh-ed25519@openssh.com'])).toEqual([]);
    expect(hostKeyAlgorithms(['ssh-ed25519', 'ssh-rsa'])).toEqual([
      'ssh-ed25519',
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
    ]);
  });
});
