import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { matchPatternList } from '../openssh-patterns.js';

/** One key line of a known_hosts file (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"). */
export interface KnownHostEntry {
  marker: 'revoked' | 'cert-authority' | undefined;
  patterns: string;
  keyType: string;
  key: Buffer;
}

export interface HostKeys {
  /** Keys the host may present: the ones listed for its name. */
  keys: { keyType: string; key: Buffer }[];
  /** Keys that must be refused, wherever they come from. */
  revoked: Buffer[];
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields[0] === '@revoked' ? 'revoked' : 'cert-authority';
      fields.shift();
    }
    const [patterns, keyType, base64] = fields;
    if (!patterns || !keyType || !base64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) continue;
    entries.push({ marker, patterns, keyType, key: Buffer.from(base64, 'base64') });
  }
  return entries;
}

/** How known_hosts names a host: `name` on port 22, `[name]:port` elsewhere. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function hashedMatch(pattern: string, name: string): boolean {
  const [, kind, salt, hash] = pattern.split('|');
  if (kind !== '1' || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Whether a line's host field names this host: hashed `|1|…`, wildcards, `!negation`. */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return hashedMatch(patterns, name);
  return matchPatternList(name, patterns, { ignoreCase: true });
}

export function keysFor(entries: KnownHostEntry[], host: string, port: number): HostKeys {
  const name = knownHostsName(host, port);
  const keys: HostKeys['keys'] = [];
  const revoked: Buffer[] = [];
  for (const entry of entries) {
    if (entry.marker === 'revoked') revoked.push(entry.key);
    // Host certificates are not supported by the SSH client; such lines can never match.
    else if (entry.marker === undefined && patternsMatch(entry.patterns, name)) {
      keys.push({ keyType: entry.keyType, key: entry.key });
    }
  }
  return { keys, revoked };
}

/** Host key algorithms the SSH client (ssh2) can verify. */
const SUPPORTED = new Set([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
]);

/**
 * The host key algorithms to offer, so a host with several keys shows one that is listed; empty
 * when no listed key is of a type the client supports.
 */
export function hostKeyAlgorithms(keyTypes: string[]): string[] {
  const algorithms = new Set<string>();
  for (const type of keyTypes) {
    const names = type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
    for (const name of names) if (SUPPORTED.has(name)) algorithms.add(name);
  }
  return [...algorithms];
}

/** The fingerprint ssh-keygen -l prints: `SHA256:` and unpadded base64. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key type inside an SSH public key blob (its first string). */
export function blobKeyType(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const length = key.readUInt32BE(0);
  return key.subarray(4, 4 + length).toString('latin1');
}
