import { createPrivateKey, createPublicKey, hkdfSync, sign, type KeyObject } from 'node:crypto';
import { ConfigurationError, type Problem } from './errors.js';
import { base64url, ED25519, keyTypeName, publicKeyLine, Reader } from './ssh-wire.js';

/** The input that carries the key: every refusal names it and never shows the key's text. */
const INPUT = 'signing-key';
const PRIVATE_KEY_BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const PRIVATE_KEY_END = '-----END OPENSSH PRIVATE KEY-----';
const MAKE_ONE = 'make one with ssh-keygen -t ed25519 -N ""';

function refusal(problem: Omit<Problem, 'input'>): ConfigurationError {
  return new ConfigurationError({ input: INPUT, ...problem });
}

/**
 * A release signing key. The private half lives only in private fields, so the key never shows
 * up when an object holding it is logged or serialised.
 */
export class SigningKey {
  /** `ssh-ed25519 AAAA…`, the line to put in allowed_signers. */
  readonly publicKey: string;
  readonly comment: string;
  readonly #privateKey: KeyObject;
  readonly #seed: Buffer;

  constructor(seed: Uint8Array, publicKey: Uint8Array, comment: string) {
    this.#seed = Buffer.from(seed);
    this.#privateKey = createPrivateKey({
      key: { kty: 'OKP', crv: 'Ed25519', d: base64url(seed), x: base64url(publicKey) },
      format: 'jwk',
    });
    const derived = createPublicKey(this.#privateKey).export({ format: 'jwk' });
    if (derived.x !== base64url(publicKey)) {
      throw refusal({
        problem: 'the private key does not match its public key',
        hint: 'the key file is damaged',
      });
    }
    this.publicKey = publicKeyLine(publicKey);
    this.comment = comment;
  }

  /** A raw Ed25519 signature (64 bytes) over `data`. */
  sign(data: Uint8Array): Uint8Array {
    return sign(null, data, this.#privateKey);
  }

  /**
   * A 32-byte secret bound to this key and to `purpose` (HKDF-SHA256 over the private seed), for
   * keyed digests that only the holder of the signing key can compute.
   */
  deriveSecret(purpose: string): Uint8Array {
    return new Uint8Array(hkdfSync('sha256', this.#seed, '', `build-release-run ${purpose}`, 32));
  }
}

/**
 * Parses an unencrypted OpenSSH Ed25519 private key, as `ssh-keygen -t ed25519 -N ''` writes it.
 * Every refusal names what the text is instead, so the user knows which key to fetch.
 */
export function parseSigningKey(text: string): SigningKey {
  const trimmed = text.replace(/\r\n/g, '\n').trim();
  if (!trimmed.startsWith(PRIVATE_KEY_BEGIN)) throw notAnOpenSshKey(trimmed);
  const end = trimmed.indexOf(PRIVATE_KEY_END);
  if (end === -1) {
    throw refusal({
      problem: `the OpenSSH private key has no '${PRIVATE_KEY_END}' line`,
      hint: 'paste the whole file',
    });
  }
  const body = trimmed.slice(PRIVATE_KEY_BEGIN.length, end).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) {
    throw refusal({ problem: 'the OpenSSH private key is not valid base64' });
  }
  try {
    return readOpenSshKey(Buffer.from(body, 'base64'));
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    throw refusal({ problem: 'the OpenSSH private key is damaged', got: (error as Error).message });
  }
}

function notAnOpenSshKey(text: string): ConfigurationError {
  if (text === '') return refusal({ problem: 'is empty' });
  const pem = /^-----BEGIN ([A-Z0-9 ]{1,40})-----/.exec(text)?.[1];
  if (pem !== undefined) {
    return refusal({
      expected: `an OpenSSH Ed25519 private key (${PRIVATE_KEY_BEGIN})`,
      got: `a PEM "${pem}"`,
      hint: MAKE_ONE,
    });
  }
  const type = /^(\S{1,64}) AAAA/.exec(text)?.[1];
  if (type !== undefined) {
    return refusal({
      expected: 'the private key',
      got: `a public key (${type})`,
      hint: 'pass the file without .pub',
    });
  }
  return refusal({
    expected: `an OpenSSH Ed25519 private key starting with ${PRIVATE_KEY_BEGIN}`,
    hint: MAKE_ONE,
  });
}

function readOpenSshKey(bytes: Uint8Array): SigningKey {
  const reader = new Reader(bytes, 'the key');
  if (Buffer.from(reader.raw(15)).toString('latin1') !== 'openssh-key-v1\0') {
    throw new Error('bad magic');
  }
  const cipher = reader.text();
  const kdf = reader.text();
  reader.bytesField();
  const count = reader.uint32();
  if (count !== 1) throw refusal({ expected: 'one key in the file', got: `${count} keys` });
  const publicBlob = new Reader(reader.bytesField(), 'the public key');
  const type = publicBlob.text();
  if (type !== ED25519) {
    if (!/^[\x21-\x7e]{1,64}$/.test(type)) throw new Error('unreadable key type');
    const name = keyTypeName(type);
    throw refusal({
      expected: 'an Ed25519 key',
      got: name !== undefined ? `an ${name} key` : `a key of type ${JSON.stringify(type)}`,
      hint: 'make one with ssh-keygen -t ed25519',
    });
  }
  if (cipher !== 'none' || kdf !== 'none') {
    throw refusal({
      problem: 'the key is protected by a passphrase',
      hint: 'a CI secret needs a key without one (ssh-keygen -p -N "" -f KEY removes it)',
    });
  }
  const publicKey = publicBlob.bytesField();
  const secret = new Reader(reader.bytesField(), 'the private section');
  if (secret.uint32() !== secret.uint32()) throw new Error('check bytes differ');
  if (secret.text() !== ED25519) throw new Error('private key type differs from public key type');
  const embeddedPublic = secret.bytesField();
  const privateBytes = secret.bytesField();
  const comment = secret.text();
  if (
    publicKey.length !== 32 ||
    privateBytes.length !== 64 ||
    !Buffer.from(embeddedPublic).equals(Buffer.from(publicKey)) ||
    !Buffer.from(privateBytes.subarray(32)).equals(Buffer.from(publicKey))
  ) {
    throw new Error('inconsistent Ed25519 key material');
  }
  return new SigningKey(privateBytes.subarray(0, 32), publicKey, comment);
}
