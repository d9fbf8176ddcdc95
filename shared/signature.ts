import { createHash, createPrivateKey, createPublicKey, hkdfSync, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ConfigurationError } from './errors.js';
import { matchPatternList } from './openssh-patterns.js';

/**
 * SSHSIG signatures (OpenSSH's PROTOCOL.sshsig), Ed25519 only, written byte for byte as
 * `ssh-keygen -Y sign` writes them, so any host can check a release with `ssh-keygen -Y verify`
 * and without this project's code.
 */
export const SIGNATURE_NAMESPACE = 'build-release-run';

const ED25519 = 'ssh-ed25519';
const MAGIC = 'SSHSIG';
const HASH = 'sha512';
const PRIVATE_KEY_BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const PRIVATE_KEY_END = '-----END OPENSSH PRIVATE KEY-----';
const SIGNATURE_BEGIN = '-----BEGIN SSH SIGNATURE-----';
const SIGNATURE_END = '-----END SSH SIGNATURE-----';
const KEY_TYPE_NAMES: Record<string, string> = {
  'ssh-rsa': 'RSA',
  'ssh-dss': 'DSA',
  'ecdsa-sha2-nistp256': 'ECDSA',
  'ecdsa-sha2-nistp384': 'ECDSA',
  'ecdsa-sha2-nistp521': 'ECDSA',
  'sk-ssh-ed25519@openssh.com': 'Ed25519-SK (security key)',
  'sk-ecdsa-sha2-nistp256@openssh.com': 'ECDSA-SK (security key)',
};

/** The wire encoding SSH uses everywhere: uint32 lengths, length-prefixed strings. */
class Reader {
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

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

function sshString(value: Uint8Array | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  return Buffer.concat([uint32(bytes.length), bytes]);
}

function ed25519Blob(publicKey: Uint8Array): Buffer {
  return Buffer.concat([sshString(ED25519), sshString(publicKey)]);
}

function keyTypeName(type: string): string {
  return KEY_TYPE_NAMES[type] ?? JSON.stringify(type);
}

/** The `ssh-ed25519 AAAA…` line of an Ed25519 public key, as in a `.pub` file. */
function publicKeyLine(publicKey: Uint8Array): string {
  return `${ED25519} ${ed25519Blob(publicKey).toString('base64')}`;
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

function ed25519PublicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: base64url(publicKey) },
    format: 'jwk',
  });
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
      throw new ConfigurationError(
        'signing-key: the private key does not match its public key; the key file is damaged',
      );
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
    throw new ConfigurationError(
      `signing-key: the OpenSSH private key has no '${PRIVATE_KEY_END}' line; paste the whole file`,
    );
  }
  const body = trimmed.slice(PRIVATE_KEY_BEGIN.length, end).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) {
    throw new ConfigurationError('signing-key: the OpenSSH private key is not valid base64');
  }
  try {
    return readOpenSshKey(Buffer.from(body, 'base64'));
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    throw new ConfigurationError(
      `signing-key: the OpenSSH private key is damaged (${(error as Error).message})`,
    );
  }
}

function notAnOpenSshKey(text: string): ConfigurationError {
  const pem = /^-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1];
  const hint = 'make one with ssh-keygen -t ed25519 -N ""';
  if (text === '') return new ConfigurationError('signing-key is empty');
  if (pem !== undefined) {
    return new ConfigurationError(
      `signing-key: expected an OpenSSH Ed25519 private key (${PRIVATE_KEY_BEGIN}), got a PEM "${pem}"; ${hint}`,
    );
  }
  const type = /^(\S+) AAAA/.exec(text)?.[1];
  if (type !== undefined) {
    return new ConfigurationError(
      `signing-key: expected the private key, got a public key (${type}); pass the file without .pub`,
    );
  }
  return new ConfigurationError(
    `signing-key: expected an OpenSSH Ed25519 private key starting with ${PRIVATE_KEY_BEGIN}; ${hint}`,
  );
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
  if (count !== 1) {
    throw new ConfigurationError(`signing-key: expected one key in the file, found ${count}`);
  }
  const publicBlob = new Reader(reader.bytesField(), 'the public key');
  const type = publicBlob.text();
  if (type !== ED25519) {
    if (!/^[\x21-\x7e]{1,64}$/.test(type)) throw new Error('unreadable key type');
    throw new ConfigurationError(
      `signing-key: expected an Ed25519 key, got an ${keyTypeName(type)} key; make one with ssh-keygen -t ed25519`,
    );
  }
  if (cipher !== 'none' || kdf !== 'none') {
    throw new ConfigurationError(
      'signing-key: the key is protected by a passphrase; a CI secret needs a key without one (ssh-keygen -p -N "" -f KEY removes it)',
    );
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

function signedData(namespace: string, messageHash: Uint8Array): Buffer {
  return Buffer.concat([
    Buffer.from(MAGIC),
    sshString(namespace),
    sshString(''),
    sshString(HASH),
    sshString(messageHash),
  ]);
}

function sha512(message: Uint8Array): Buffer {
  return createHash('sha512').update(message).digest();
}

/** Signs `message` and returns the armored signature `ssh-keygen -Y sign` would write. */
export function signMessage(
  message: Uint8Array,
  key: SigningKey,
  namespace: string = SIGNATURE_NAMESPACE,
): string {
  const signature = key.sign(signedData(namespace, sha512(message)));
  const publicBlob = Buffer.from(key.publicKey.split(' ')[1]!, 'base64');
  const blob = Buffer.concat([
    Buffer.from(MAGIC),
    uint32(1),
    sshString(publicBlob),
    sshString(namespace),
    sshString(''),
    sshString(HASH),
    sshString(Buffer.concat([sshString(ED25519), sshString(signature)])),
  ]);
  const lines = blob.toString('base64').match(/.{1,70}/g) ?? [];
  return `${SIGNATURE_BEGIN}\n${lines.join('\n')}\n${SIGNATURE_END}\n`;
}

export interface AllowedSigner {
  /** The principals field as written: comma-separated patterns (`*`, `?`, `!negation`). */
  principals: string;
  /** `namespaces="…"`: patterns of the namespaces this key may sign for. */
  namespaces?: string;
  validAfter?: Date;
  validBefore?: Date;
  /** A `cert-authority` line names a CA for certificates, which this project does not accept. */
  certAuthority: boolean;
  /** The key type as written, such as `ssh-ed25519`. */
  keyType: string;
  /** `<type> <base64>`, without the comment. */
  publicKey: string;
  /** 1-based line number in the allowed signers text. */
  line: number;
}

/** Key types a line may name; ssh-keygen reads the first word as a key when it is one of them. */
const KNOWN_KEY_TYPE =
  /^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)(-cert-v01@openssh\.com)?$/;

/**
 * Parses allowed_signers text as `ssh-keygen -Y verify -f` reads it (ssh-keygen(1), ALLOWED
 * SIGNERS): `principals [options] keytype base64-key [comment]`. A malformed line is refused
 * with its number: ssh-keygen only warns and skips it, which silently drops a trusted key or
 * loosens a restriction the user meant to set.
 */
export function parseAllowedSigners(text: string): AllowedSigner[] {
  const signers: AllowedSigner[] = [];
  for (const [index, rawLine] of text.split('\n').entries()) {
    const line = rawLine.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const number = index + 1;
    const fail = (why: string): never => {
      throw new ConfigurationError(`allowed-signers line ${number}: ${why}`);
    };
    let rest = line;
    let principals: string;
    if (rest.startsWith('"')) {
      const close = rest.indexOf('"', 1);
      if (close === -1) fail('the quoted principals have no closing quote');
      principals = rest.slice(1, close);
      rest = rest.slice(close + 1).trimStart();
    } else {
      const match = /^(\S+)\s+(.*)$/.exec(rest);
      if (!match) return fail('expected "principals [options] ssh-ed25519 AAAA…"');
      principals = match[1]!;
      rest = match[2]!;
    }
    if (principals === '') fail('the principals field is empty');
    const firstWord = /^\S+/.exec(rest)?.[0] ?? '';
    let options: Omit<AllowedSigner, 'principals' | 'keyType' | 'publicKey' | 'line'> = {
      certAuthority: false,
    };
    if (!KNOWN_KEY_TYPE.test(firstWord)) {
      const { text: optionText, rest: afterOptions } = splitOptions(rest, fail);
      options = parseSignerOptions(optionText, fail);
      rest = afterOptions.trimStart();
    }
    const [keyType, keyData] = rest.split(/\s+/);
    if (keyType === undefined || keyType === '') return fail('the key is missing');
    if (!KNOWN_KEY_TYPE.test(keyType)) return fail(`unknown key type ${JSON.stringify(keyType)}`);
    if (keyData === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(keyData)) {
      return fail(`the ${keyType} key has no base64 key data`);
    }
    try {
      const embedded = new Reader(Buffer.from(keyData, 'base64'), 'the key').text();
      if (embedded !== keyType) throw new Error(`the key data is a ${embedded} key`);
    } catch (error) {
      fail(`the ${keyType} key data is invalid (${(error as Error).message})`);
    }
    signers.push({
      principals,
      ...options,
      keyType,
      // Re-encoded, so a key is matched by its bytes and not by how its base64 was written.
      publicKey: `${keyType} ${Buffer.from(keyData, 'base64').toString('base64')}`,
      line: number,
    });
  }
  return signers;
}

/** Options end at the first space or tab outside double quotes. */
function splitOptions(text: string, fail: (why: string) => never): { text: string; rest: string } {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && quoted && text[i + 1] === '"') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && (c === ' ' || c === '\t'))
      return { text: text.slice(0, i), rest: text.slice(i) };
  }
  if (quoted) fail('an option value has no closing quote');
  return fail('the key is missing after the options');
}

function parseSignerOptions(
  text: string,
  fail: (why: string) => never,
): Omit<AllowedSigner, 'principals' | 'keyType' | 'publicKey' | 'line'> {
  const result: Omit<AllowedSigner, 'principals' | 'keyType' | 'publicKey' | 'line'> = {
    certAuthority: false,
  };
  let rest = text;
  while (rest !== '') {
    const name = /^[A-Za-z-]+/.exec(rest)?.[0]?.toLowerCase() ?? '';
    rest = rest.slice(name.length);
    let value: string | undefined;
    if (rest.startsWith('="')) {
      let i = 2;
      let out = '';
      for (; i < rest.length && rest[i] !== '"'; i++) {
        if (rest[i] === '\\' && rest[i + 1] === '"') i++;
        out += rest[i];
      }
      if (i >= rest.length) fail(`option ${name} has no closing quote`);
      value = out;
      rest = rest.slice(i + 1);
    }
    const needsValue = (): string =>
      value ??
      fail(`option ${name || JSON.stringify(rest)} needs a quoted value, like ${name}="…"`);
    switch (name) {
      case 'cert-authority':
        if (value !== undefined) fail('option cert-authority takes no value');
        result.certAuthority = true;
        break;
      case 'namespaces':
        if (result.namespaces !== undefined) fail('multiple "namespaces" clauses');
        result.namespaces = needsValue();
        break;
      case 'valid-after':
        if (result.validAfter !== undefined) fail('multiple "valid-after" clauses');
        result.validAfter = parseSignerTime(needsValue(), name, fail);
        break;
      case 'valid-before':
        if (result.validBefore !== undefined) fail('multiple "valid-before" clauses');
        result.validBefore = parseSignerTime(needsValue(), name, fail);
        break;
      default:
        fail(`unknown option ${JSON.stringify(name || rest)}`);
    }
    if (rest === '') break;
    if (!rest.startsWith(',')) fail(`unexpected ${JSON.stringify(rest)} after option ${name}`);
    rest = rest.slice(1);
    if (rest === '') fail('unexpected end of options after ","');
  }
  if (result.validAfter && result.validBefore && result.validBefore <= result.validAfter) {
    fail('"valid-before" time is before "valid-after"');
  }
  return result;
}

/** `YYYYMMDD[HHMM[SS]]`, UTC with a `Z` (or `UTC`) suffix and local time without, as ssh-keygen. */
function parseSignerTime(text: string, option: string, fail: (why: string) => never): Date {
  const match = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z|UTC)?$/i.exec(text);
  if (!match)
    return fail(`invalid "${option}" time ${JSON.stringify(text)}: expected YYYYMMDD[HHMM[SS]][Z]`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', utc] = match;
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  const [year, month, day, hour, minute, second] = parts;
  const date = utc
    ? new Date(Date.UTC(year, month, day, hour, minute, second))
    : new Date(year, month, day, hour, minute, second);
  const check = utc
    ? [
        date.getUTCFullYear(),
        date.getUTCMonth(),
        date.getUTCDate(),
        date.getUTCHours(),
        date.getUTCMinutes(),
        date.getUTCSeconds(),
      ]
    : [
        date.getFullYear(),
        date.getMonth(),
        date.getDate(),
        date.getHours(),
        date.getMinutes(),
        date.getSeconds(),
      ];
  if (check.some((value, i) => value !== parts[i])) {
    fail(`invalid "${option}" time ${JSON.stringify(text)}: no such date`);
  }
  return date;
}

export interface VerifiedSignature {
  /** The principals of the allowed_signers line that holds the key. */
  principal: string;
  /** `ssh-ed25519 AAAA…` of the key that made the signature. */
  publicKey: string;
}

/**
 * Checks an armored SSHSIG over `message` against allowed signers, as `ssh-keygen -Y verify`
 * does (without certificates). Each refusal names why, so a failed deploy says whether the
 * file was tampered with or the key is simply not trusted here.
 */
export function verifyMessage(
  message: Uint8Array,
  armoredSignature: string,
  allowedSigners: readonly AllowedSigner[],
  namespace: string = SIGNATURE_NAMESPACE,
  now: Date = new Date(),
): VerifiedSignature {
  const blob = dearmor(armoredSignature);
  let parsed: ReturnType<typeof parseSignatureBlob>;
  try {
    parsed = parseSignatureBlob(blob);
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    throw new ConfigurationError(`signature: malformed SSHSIG blob (${(error as Error).message})`);
  }
  if (parsed.namespace !== namespace) {
    throw new ConfigurationError(
      `signature: made for namespace ${JSON.stringify(parsed.namespace)}, expected ${JSON.stringify(namespace)}`,
    );
  }
  const { keyType, rawPublicKey } = parsed;
  if (keyType !== ED25519) {
    throw new ConfigurationError(
      `signature: made with an ${keyTypeName(keyType)} key; only Ed25519 signatures are accepted`,
    );
  }
  if (rawPublicKey.length !== 32) {
    throw new ConfigurationError('signature: the embedded Ed25519 public key is malformed');
  }
  if (parsed.signatureType !== ED25519 || parsed.signature.length !== 64) {
    throw new ConfigurationError(
      `signature: malformed SSHSIG blob (a ${JSON.stringify(parsed.signatureType)} signature of ${parsed.signature.length} bytes)`,
    );
  }
  const publicKey = publicKeyLine(rawPublicKey);

  if (parsed.hash !== 'sha512' && parsed.hash !== 'sha256') {
    throw new ConfigurationError(
      `signature: unsupported hash algorithm ${JSON.stringify(parsed.hash)}`,
    );
  }
  const hash = createHash(parsed.hash).update(message).digest();
  const toVerify = Buffer.concat([
    Buffer.from(MAGIC),
    sshString(namespace),
    sshString(''),
    sshString(parsed.hash),
    sshString(hash),
  ]);
  if (!verify(null, toVerify, ed25519PublicKeyObject(rawPublicKey), parsed.signature)) {
    throw new ConfigurationError(
      `signature: does not match the signed bytes; the file or its signature was changed`,
    );
  }
  const candidates = allowedSigners.filter(
    (signer) => !signer.certAuthority && signer.publicKey === publicKey,
  );
  if (candidates.length === 0) {
    const ca = allowedSigners.some((signer) => signer.certAuthority)
      ? ' (cert-authority lines are ignored: certificates are not supported)'
      : '';
    throw new ConfigurationError(
      `signature: the signing key ${publicKey} is not in allowed-signers${ca}`,
    );
  }
  const allowed = candidates.find(
    (signer) =>
      (signer.namespaces === undefined || matchPatternList(namespace, signer.namespaces)) &&
      (signer.validAfter === undefined || now >= signer.validAfter) &&
      (signer.validBefore === undefined || now <= signer.validBefore),
  );
  if (!allowed) {
    const signer = candidates[0]!;
    const why =
      signer.namespaces !== undefined && !matchPatternList(namespace, signer.namespaces)
        ? `its namespaces="${signer.namespaces}" excludes ${JSON.stringify(namespace)}`
        : signer.validAfter !== undefined && now < signer.validAfter
          ? `it is not valid before ${signer.validAfter.toISOString()}`
          : `it expired at ${signer.validBefore?.toISOString() ?? '?'}`;
    throw new ConfigurationError(
      `signature: the signing key is in allowed-signers line ${signer.line}, but ${why}`,
    );
  }
  return { principal: allowed.principals, publicKey };
}

function dearmor(armored: string): Buffer {
  const text = armored.replace(/\r\n/g, '\n').trim();
  if (!text.startsWith(`${SIGNATURE_BEGIN}\n`)) {
    throw new ConfigurationError(
      `signature: expected armored text starting with ${SIGNATURE_BEGIN}`,
    );
  }
  const end = text.indexOf(`\n${SIGNATURE_END}`);
  if (end === -1) throw new ConfigurationError(`signature: missing ${SIGNATURE_END}`);
  const body = text.slice(SIGNATURE_BEGIN.length, end).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) {
    throw new ConfigurationError('signature: the armored signature is not valid base64');
  }
  return Buffer.from(body, 'base64');
}

function parseSignatureBlob(blob: Uint8Array) {
  const reader = new Reader(blob, 'the signature');
  if (Buffer.from(reader.raw(6)).toString('latin1') !== MAGIC) throw new Error('bad magic');
  const version = reader.uint32();
  if (version !== 1) {
    throw new ConfigurationError(
      `signature: SSHSIG version ${version} is not supported (expected 1)`,
    );
  }
  const publicBlob = reader.bytesField();
  const namespace = reader.text();
  reader.bytesField();
  const hash = reader.text();
  const wrapped = new Reader(reader.bytesField(), 'the signature field');
  if (!reader.done) throw new Error('trailing data');
  const signatureType = wrapped.text();
  const signature = wrapped.bytesField();
  if (!wrapped.done) throw new Error('trailing data in the signature field');
  const publicReader = new Reader(publicBlob, 'the signing key');
  const keyType = publicReader.text();
  const rawPublicKey = keyType === ED25519 ? publicReader.bytesField() : new Uint8Array();
  if (keyType === ED25519 && !publicReader.done)
    throw new Error('trailing data in the signing key');
  return { keyType, rawPublicKey, namespace, hash, signatureType, signature };
}
