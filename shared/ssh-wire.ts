import { createPublicKey, type KeyObject } from 'node:crypto';

/** The wire encoding SSH keys and signatures use: uint32 lengths, length-prefixed strings. */

export const ED25519 = 'ssh-ed25519';

const KEY_TYPE_NAMES: Record<string, string> = {
  [ED25519]: 'Ed25519',
  'ssh-rsa': 'RSA',
  'ssh-dss': 'DSA',
  'ecdsa-sha2-nistp256': 'ECDSA',
  'ecdsa-sha2-nistp384': 'ECDSA',
  'ecdsa-sha2-nistp521': 'ECDSA',
  'sk-ssh-ed25519@openssh.com': 'Ed25519-SK (security key)',
  'sk-ecdsa-sha2-nistp256@openssh.com': 'ECDSA-SK (security key)',
};

/** What a user calls a key type (RSA, ECDSA), or undefined for a type we do not know. */
export function keyTypeName(type: string): string | undefined {
  return Object.hasOwn(KEY_TYPE_NAMES, type) ? KEY_TYPE_NAMES[type] : undefined;
}

/** Reads SSH wire fields; a short read is a plain Error the caller words for its user. */
export class Reader {
  private offset = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  get done(): boolean {
    return this.offset === this.bytes.length;
  }

  raw(length: number): Uint8Array {
    if (this.offset + length > this.bytes.length) throw new Error(`${this.what} is truncated`);
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  uint32(): number {
    const b = this.raw(4);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }

  bytesField(): Uint8Array {
    return this.raw(this.uint32());
  }

  text(): string {
    return Buffer.from(this.bytesField()).toString('utf8');
  }
}

export function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

export function sshString(value: Uint8Array | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  return Buffer.concat([uint32(bytes.length), bytes]);
}

function ed25519Blob(publicKey: Uint8Array): Buffer {
  return Buffer.concat([sshString(ED25519), sshString(publicKey)]);
}

/** The `ssh-ed25519 AAAA…` line of an Ed25519 public key, as in a `.pub` file. */
export function publicKeyLine(publicKey: Uint8Array): string {
  return `${ED25519} ${ed25519Blob(publicKey).toString('base64')}`;
}

export function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

export function ed25519PublicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: base64url(publicKey) },
    format: 'jwk',
  });
}
