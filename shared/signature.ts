import { createHash, verify } from 'node:crypto';
import type { AllowedSigner } from './allowed-signers.js';
import { ConfigurationError, quoted, type Problem } from './errors.js';
import { matchPatternList } from './openssh-patterns.js';
import type { SigningKey } from './signing-key.js';
import {
  ED25519,
  ed25519PublicKeyObject,
  keyTypeName,
  publicKeyLine,
  Reader,
  sshString,
  uint32,
} from './ssh-wire.js';

export { keySigner, parseAllowedSigners, type AllowedSigner } from './allowed-signers.js';
export { parseSigningKey, SigningKey } from './signing-key.js';

/**
 * SSHSIG signatures (OpenSSH's PROTOCOL.sshsig), Ed25519 only, written byte for byte as
 * `ssh-keygen -Y sign` writes them, so any host can check a release with `ssh-keygen -Y verify`
 * and without this project's code.
 */
export const SIGNATURE_NAMESPACE = 'build-release-run';

/** The problem of a good signature by a key no allowed-signers line names. */
export const UNTRUSTED_KEY = 'is made by a key that is not in allowed-signers';

const MAGIC = 'SSHSIG';
const HASH = 'sha512';
const SIGNATURE_BEGIN = '-----BEGIN SSH SIGNATURE-----';
const SIGNATURE_END = '-----END SSH SIGNATURE-----';

/** A refusal of the signature; the caller says which file it was, as the subject. */
function refusal(problem: Omit<Problem, 'input' | 'subject'>): ConfigurationError {
  return new ConfigurationError({ subject: 'the signature', ...problem });
}

function signedData(namespace: string, hash: string, messageHash: Uint8Array): Buffer {
  return Buffer.concat([
    Buffer.from(MAGIC),
    sshString(namespace),
    sshString(''),
    sshString(hash),
    sshString(messageHash),
  ]);
}

/** Signs `message` and returns the armored signature `ssh-keygen -Y sign` would write. */
export function signMessage(
  message: Uint8Array,
  key: SigningKey,
  namespace: string = SIGNATURE_NAMESPACE,
): string {
  const messageHash = createHash(HASH).update(message).digest();
  const signature = key.sign(signedData(namespace, HASH, messageHash));
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

export interface VerifiedSignature {
  /** The principals of the allowed_signers line that holds the key. */
  principal: string;
  /** `ssh-ed25519 AAAA…` of the key that made the signature. */
  publicKey: string;
}

export interface VerifyOptions {
  /** The namespace the signature must be made for; build-release-run's by default. */
  namespace?: string;
  /** When the signer's `valid-after`/`valid-before` are judged. */
  now?: Date;
}

/**
 * Checks an armored SSHSIG over `message` against allowed signers, as `ssh-keygen -Y verify`
 * does (without certificates). Each refusal names why, so a failed deploy says whether the
 * file was tampered with or the key is simply not trusted here. What the signature itself says
 * (its namespace, its types) is untrusted and shown only as what was got.
 */
export function verifyMessage(
  message: Uint8Array,
  armoredSignature: string,
  allowedSigners: readonly AllowedSigner[],
  options: VerifyOptions = {},
): VerifiedSignature {
  const namespace = options.namespace ?? SIGNATURE_NAMESPACE;
  const parsed = parseSignature(armoredSignature);
  if (parsed.namespace !== namespace) {
    throw refusal({
      problem: 'is made for another namespace',
      expected: JSON.stringify(namespace),
      got: quoted(parsed.namespace),
    });
  }
  const messageHash = createHash(parsed.hash).update(message).digest();
  const signed = signedData(namespace, parsed.hash, messageHash);
  if (!verify(null, signed, ed25519PublicKeyObject(parsed.rawPublicKey), parsed.signature)) {
    throw refusal({
      problem: 'does not match the signed bytes',
      hint: 'the file or its signature was changed',
    });
  }
  const publicKey = publicKeyLine(parsed.rawPublicKey);
  return allowedSigner(publicKey, allowedSigners, namespace, options.now ?? new Date());
}

/** The allowed_signers line that lets `publicKey` sign for `namespace` at `now`. */
function allowedSigner(
  publicKey: string,
  allowedSigners: readonly AllowedSigner[],
  namespace: string,
  now: Date,
): VerifiedSignature {
  const candidates = allowedSigners.filter(
    (signer) => !signer.certAuthority && signer.publicKey === publicKey,
  );
  if (candidates.length === 0) {
    const ca = allowedSigners.some((signer) => signer.certAuthority);
    throw refusal({
      problem: UNTRUSTED_KEY,
      got: publicKey,
      hint: ca ? 'cert-authority lines are ignored: certificates are not supported' : undefined,
    });
  }
  const allows = (signer: AllowedSigner) =>
    signer.namespaces === undefined || matchPatternList(namespace, signer.namespaces);
  const allowed = candidates.find(
    (signer) =>
      allows(signer) &&
      (signer.validAfter === undefined || now >= signer.validAfter) &&
      (signer.validBefore === undefined || now <= signer.validBefore),
  );
  if (allowed) return { principal: allowed.principals, publicKey };
  const signer = candidates[0]!;
  const why = !allows(signer)
    ? `its namespaces="${signer.namespaces}" excludes ${JSON.stringify(namespace)}`
    : signer.validAfter !== undefined && now < signer.validAfter
      ? `it is not valid before ${signer.validAfter.toISOString()}`
      : `it expired at ${signer.validBefore?.toISOString() ?? '?'}`;
  throw refusal({
    problem: `is made by the key of allowed-signers line ${signer.line}, but ${why}`,
  });
}

interface ParsedSignature {
  namespace: string;
  hash: 'sha256' | 'sha512';
  rawPublicKey: Uint8Array;
  signature: Uint8Array;
}

/** The armored SSHSIG, read and checked for form: Ed25519, version 1, a known hash. */
function parseSignature(armored: string): ParsedSignature {
  let blob: ReturnType<typeof parseSignatureBlob>;
  try {
    blob = parseSignatureBlob(dearmor(armored));
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    throw refusal({ problem: 'is a malformed SSHSIG blob', got: (error as Error).message });
  }
  if (blob.keyType !== ED25519) {
    const name = keyTypeName(blob.keyType);
    throw refusal({
      problem: 'is made with a key of another type',
      expected: 'an Ed25519 key',
      got: name !== undefined ? `an ${name} key` : quoted(blob.keyType),
    });
  }
  if (blob.rawPublicKey.length !== 32) {
    throw refusal({ problem: 'holds a malformed Ed25519 public key' });
  }
  if (blob.signatureType !== ED25519 || blob.signature.length !== 64) {
    throw refusal({
      problem: 'is a malformed SSHSIG blob',
      expected: 'a 64-byte ssh-ed25519 signature',
      got: `${quoted(blob.signatureType)} of ${blob.signature.length} bytes`,
    });
  }
  if (blob.hash !== 'sha512' && blob.hash !== 'sha256') {
    throw refusal({ problem: 'uses an unsupported hash algorithm', got: quoted(blob.hash) });
  }
  return { ...blob, hash: blob.hash };
}

function dearmor(armored: string): Buffer {
  const text = armored.replace(/\r\n/g, '\n').trim();
  if (!text.startsWith(`${SIGNATURE_BEGIN}\n`)) {
    throw refusal({ expected: `armored text starting with ${SIGNATURE_BEGIN}` });
  }
  const end = text.indexOf(`\n${SIGNATURE_END}`);
  if (end === -1) throw refusal({ problem: `is missing ${SIGNATURE_END}` });
  const body = text.slice(SIGNATURE_BEGIN.length, end).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) {
    throw refusal({ problem: 'is not valid base64' });
  }
  return Buffer.from(body, 'base64');
}

function parseSignatureBlob(blob: Uint8Array) {
  const reader = new Reader(blob, 'the signature');
  if (Buffer.from(reader.raw(6)).toString('latin1') !== MAGIC) throw new Error('bad magic');
  const version = reader.uint32();
  if (version !== 1) {
    throw refusal({
      problem: 'has an unsupported SSHSIG version',
      expected: '1',
      got: `${version}`,
    });
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
  if (keyType === ED25519 && !publicReader.done) {
    throw new Error('trailing data in the signing key');
  }
  return { keyType, rawPublicKey, namespace, hash, signatureType, signature };
}
