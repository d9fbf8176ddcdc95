import { stat } from 'node:fs/promises';
import path from 'node:path';
import ssh2 from 'ssh2';
import { ConfigurationError } from './core.js';
import { readOptionFile } from './files.js';
import type { Io } from './io.js';

/** How brr logs in to a host: a running ssh-agent, or an unencrypted private key file. */
export type SshCredential =
  { kind: 'agent'; socket: string } | { kind: 'key'; file: string; privateKey: string };

const OPENSSH_KEY =
  /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/;
const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');

/**
 * Whether a private key needs a passphrase: an OpenSSH key names its cipher right after its
 * magic, an old PEM key says `Proc-Type: 4,ENCRYPTED`. brr never asks for passphrases: such
 * a key belongs in the agent.
 */
export function isEncryptedKey(text: string): boolean {
  if (/^Proc-Type:\s*4,ENCRYPTED/m.test(text)) return true;
  const body = OPENSSH_KEY.exec(text)?.[1];
  if (body === undefined) return false;
  const blob = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  if (!blob.subarray(0, MAGIC.length).equals(MAGIC) || blob.length < MAGIC.length + 4) return false;
  const length = blob.readUInt32BE(MAGIC.length);
  const cipher = blob.subarray(MAGIC.length + 4, MAGIC.length + 4 + length).toString('latin1');
  return cipher !== 'none';
}

async function keyFile(file: string, input: string, io: Io): Promise<SshCredential> {
  const privateKey = await readOptionFile(input, file, io.cwd);
  if (isEncryptedKey(privateKey)) {
    throw new ConfigurationError({
      input,
      problem: `${file} is encrypted with a passphrase`,
      hint: `add it to the agent (ssh-add ${file}) and run without --ssh-key`,
    });
  }
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed) || !parsed.isPrivateKey()) {
    throw new ConfigurationError({
      input,
      problem: `${file} is not a private key ssh2 can read`,
      expected: 'an OpenSSH private key (ssh-keygen -t ed25519)',
    });
  }
  return { kind: 'key', file, privateKey };
}

async function isSocket(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isSocket();
  } catch {
    return false;
  }
}

/**
 * The SSH credential: `--ssh-key FILE`, else the agent at SSH_AUTH_SOCK, else
 * ~/.ssh/id_ed25519, as `ssh` itself would try them.
 */
export async function resolveSshCredential(
  option: string | undefined,
  io: Io,
): Promise<SshCredential> {
  if (option !== undefined) return keyFile(option, '--ssh-key', io);
  const socket = io.env.SSH_AUTH_SOCK;
  if (socket !== undefined && socket !== '') {
    if (await isSocket(socket)) return { kind: 'agent', socket };
    throw new ConfigurationError({
      input: 'SSH_AUTH_SOCK',
      problem: `${socket} is not a socket: no ssh-agent listens there`,
      hint: 'start the agent (eval "$(ssh-agent)"; ssh-add), or pass --ssh-key FILE',
    });
  }
  const home = io.env.HOME;
  const fallback = home ? path.join(home, '.ssh', 'id_ed25519') : undefined;
  if (fallback !== undefined && (await stat(fallback).catch(() => undefined))) {
    return keyFile(fallback, '--ssh-key', io);
  }
  throw new ConfigurationError({
    input: '--ssh-key',
    problem:
      'no SSH key: not given, no ssh-agent (SSH_AUTH_SOCK is not set), and no ~/.ssh/id_ed25519',
    hint: 'pass --ssh-key FILE, or add the key to an ssh-agent',
  });
}
