import { createHmac } from 'node:crypto';
import { Decrypter, Encrypter, armor } from 'age-encryption';
import { ConfigurationError } from './errors.js';
import { canonicalJson } from './manifest.js';
import { ENV_NAME } from './names.js';
import type { SigningKey } from './signature.js';
import type { Log } from './log.js';

/** An age X25519 recipient: `age1` and 58 bech32 characters, as `age-keygen -y` prints it. */
const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;
const X25519_IDENTITY = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;

/**
 * Checks the `recipients` lines: age X25519 public keys only, since every host must be able to
 * decrypt with a plain `age -d -i key.txt`. Recipients are public, so errors may quote them.
 */
export function parseRecipients(lines: readonly string[]): string[] {
  const recipients: string[] = [];
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    const where = `recipients line ${index + 1} ${JSON.stringify(line)}`;
    if (line.startsWith('age1pq1') || line.startsWith('age1tag')) {
      throw new ConfigurationError(
        `${where}: only X25519 recipients are supported; make one with age-keygen`,
      );
    }
    if (/^(ssh-|ecdsa-|sk-)/.test(line)) {
      throw new ConfigurationError(
        `${where}: SSH keys are not age recipients here; make one with age-keygen`,
      );
    }
    let valid = X25519_RECIPIENT.test(line);
    if (valid) {
      try {
        new Encrypter().addRecipient(line);
      } catch {
        valid = false;
      }
    }
    if (!valid) {
      throw new ConfigurationError(
        `${where}: expected an age X25519 recipient (age1… as age-keygen -y prints it)`,
      );
    }
    if (!recipients.includes(line)) recipients.push(line);
  }
  return recipients;
}

/**
 * The `AGE-SECRET-KEY-1…` lines of an identity, as age-keygen writes the file (comment lines
 * allowed). Errors give only line numbers: an identity line is a secret.
 */
function parseIdentities(text: string): string[] {
  const identities: string[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!X25519_IDENTITY.test(line)) {
      throw new ConfigurationError(
        `identity line ${index + 1} is not an age X25519 identity (AGE-SECRET-KEY-1… from age-keygen)`,
      );
    }
    identities.push(line);
  }
  if (identities.length === 0) {
    throw new ConfigurationError('identity: expected an age identity (AGE-SECRET-KEY-1…)');
  }
  return identities;
}

/**
 * Masks a secret value in everything the runner prints from now on, and each line of a
 * multi-line value too: the runner matches masks line by line.
 */
export function maskSecret(log: Pick<Log, 'setSecret'>, value: string): void {
  if (value === '') return;
  log.setSecret(value);
  for (const line of value.split(/\r?\n/)) if (line.trim().length > 3) log.setSecret(line);
}

/**
 * Encrypts secret values to every recipient. The plaintext is the canonical JSON of the values,
 * so `age -d -i key.txt` on a host prints them without this project's code.
 */
export async function encryptSecrets(
  values: Record<string, string>,
  recipients: readonly string[],
): Promise<string> {
  if (recipients.length === 0) {
    throw new ConfigurationError(
      'recipients: at least one age recipient is needed to encrypt secrets',
    );
  }
  const encrypter = new Encrypter();
  for (const recipient of parseRecipients(recipients)) encrypter.addRecipient(recipient);
  return armor.encode(await encrypter.encrypt(canonicalJson(values)));
}

/** Decrypts what {@link encryptSecrets} wrote, with one or more identities. */
export async function decryptSecrets(
  armored: string,
  identity: string,
): Promise<Record<string, string>> {
  const decrypter = new Decrypter();
  for (const line of parseIdentities(identity)) decrypter.addIdentity(line);
  let file: Uint8Array;
  try {
    file = armor.decode(armored);
  } catch (error) {
    throw new ConfigurationError(
      `secrets: the ciphertext is not an armored age file (${(error as Error).message})`,
    );
  }
  let plaintext: string;
  try {
    plaintext = await decrypter.decrypt(file, 'text');
  } catch (error) {
    const message = (error as Error).message;
    if (/no identity matched/.test(message)) {
      throw new ConfigurationError(
        "identity: the identity does not decrypt the release's secrets; they were encrypted to other recipients",
      );
    }
    throw new ConfigurationError(`secrets: the ciphertext is damaged (${message})`);
  }
  return parseSecretValues(plaintext);
}

function parseSecretValues(plaintext: string): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(plaintext);
  } catch {
    throw new ConfigurationError('secrets: the decrypted text is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigurationError('secrets: the decrypted text is not a JSON object');
  }
  const values: Record<string, string> = {};
  for (const [name, secret] of Object.entries(value)) {
    if (!ENV_NAME.test(name) || typeof secret !== 'string') {
      throw new ConfigurationError(
        `secrets: the decrypted entry ${JSON.stringify(name)} is not a name with a string value`,
      );
    }
    values[name] = secret;
  }
  return values;
}

/**
 * Keyed digests of secret values, so two releases can be compared without decrypting either.
 * The HMAC key is derived from the signing key's private bytes: release.json is readable by
 * anyone who can read the repository's releases, and a plain hash of a short secret (a PIN, a
 * weak password) could be brute-forced offline; with a key only the signer holds, readers learn
 * nothing but "same" or "different". The name is hashed in, so two secrets that share a value
 * do not show it. Rotating the signing key makes every secret look changed once.
 */
export function secretFingerprints(
  values: Record<string, string>,
  signingKey: Pick<SigningKey, 'deriveSecret'>,
): Record<string, string> {
  const key = signingKey.deriveSecret('secret fingerprints');
  const fingerprints: Record<string, string> = {};
  for (const name of Object.keys(values).sort()) {
    const hmac = createHmac('sha256', key).update(`${name}\0${values[name]}`, 'utf8');
    fingerprints[name] = `hmac-sha256:${hmac.digest('hex')}`;
  }
  return fingerprints;
}

/**
 * Text the step writes where the runner's masking may not reach (a job summary built from a
 * host's output), with every secret value, and each line of one, replaced by `***`: the same
 * values `maskSecret` registers.
 */
export function redactSecrets(text: string, values: readonly string[]): string {
  const pieces = values
    .flatMap((value) => [value, ...value.split(/\r?\n/).filter((line) => line.trim().length > 3)])
    .filter((piece) => piece.length > 0)
    .sort((a, b) => b.length - a.length);
  let redacted = text;
  for (const piece of pieces) redacted = redacted.split(piece).join('***');
  return redacted;
}
