import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { scratchDir } from './scratch.js';

/** Keys as a user makes them: ssh-keygen for signing, age-keygen for secrets. */

export interface SshKey {
  /** The private key file's text: what a workflow passes as `signing-key`. */
  privateKey: string;
  /** `ssh-ed25519 AAAA… comment`, the .pub file's line. */
  publicKey: string;
  /** An allowed_signers file trusting this key for release signatures, for `ssh-keygen -Y verify`. */
  allowedSignersFile: string;
  principal: string;
}

export async function sshKey(
  type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519',
  principal = 'release@example.com',
): Promise<SshKey> {
  const dir = await scratchDir('brr-key-');
  const file = path.join(dir, 'key');
  const size = type === 'rsa' ? ['-b', '2048'] : [];
  execFileSync('ssh-keygen', ['-q', '-t', type, ...size, '-N', '', '-C', principal, '-f', file]);
  const publicKey = (await readFile(`${file}.pub`, 'utf8')).trim();
  const allowedSignersFile = path.join(dir, 'allowed_signers');
  await writeFile(allowedSignersFile, `${principal} namespaces="build-release-run" ${publicKey}\n`);
  return { privateKey: await readFile(file, 'utf8'), publicKey, allowedSignersFile, principal };
}

/** Checks a signature with `ssh-keygen -Y verify`; returns its output, throws when it fails. */
export async function sshVerify(
  key: SshKey,
  message: Uint8Array,
  signature: string,
): Promise<string> {
  const dir = await scratchDir('brr-verify-');
  const file = path.join(dir, 'release.json.sig');
  await writeFile(file, signature);
  return execFileSync(
    'ssh-keygen',
    [
      '-Y',
      'verify',
      '-f',
      key.allowedSignersFile,
      '-I',
      key.principal,
      '-n',
      'build-release-run',
      '-s',
      file,
    ],
    { input: message, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] },
  );
}

export interface AgeKey {
  /** `AGE-SECRET-KEY-1…`: what a host holds. */
  identity: string;
  /** `age1…`: what `recipients` lists. */
  recipient: string;
  identityFile: string;
}

export async function ageKey(): Promise<AgeKey> {
  const dir = await scratchDir('brr-age-');
  const identityFile = path.join(dir, 'key.txt');
  execFileSync('age-keygen', ['-o', identityFile], { stdio: 'ignore' });
  const identity = (await readFile(identityFile, 'utf8'))
    .split('\n')
    .find((line) => line.startsWith('AGE-SECRET-KEY-1'));
  if (identity === undefined) throw new Error('age-keygen wrote no identity');
  const recipient = execFileSync('age-keygen', ['-y', identityFile], { encoding: 'utf8' }).trim();
  return { identity, recipient, identityFile };
}

/** Decrypts with the `age` CLI, as a host would. */
export function ageDecrypt(key: AgeKey, armored: string): string {
  return execFileSync('age', ['-d', '-i', key.identityFile], { input: armored, encoding: 'utf8' });
}

/** The `age1…` recipient of an identity, as the reference tool `age-keygen -y` derives it. */
export function recipientOf(identity: string): string {
  const line = identity.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1')) ?? identity;
  return execFileSync('age-keygen', ['-y'], { input: `${line}\n`, encoding: 'utf8' }).trim();
}
