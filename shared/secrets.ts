import { createHmac } from 'node:crypto';
import { Decrypter, Encrypter, armor, identityToRecipient } from 'age-encryption';
import { ConfigurationError, quoted, type Problem } from './errors.js';
import { canonicalJson } from './manifest.js';
import { ENV_NAME } from './names.js';
import type { SigningKey } from './signature.js';
import type { Log } from './log.js';

/** An age X25519 recipient: `age1` and 58 bech32 characters, as `age-keygen -y` prints it. */
const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;
const X25519_IDENTITY = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;
/** Any age identity, in either case (bech32 may be written all lower-case): a secret. */
const ANY_IDENTITY = /^AGE-SECRET-KEY-/i;

const RECIPIENT = 'an age X25519 recipient (age1… as age-keygen -y prints it)';

/**
 * Checks the `recipients` lines: age X25519 public keys only, since every host must be able to
 * decrypt with a plain `age -d -i key.txt`. A line is quoted in an error only when it has the
 * form of a public key: what a user pastes here by mistake may be a secret.
 */
export function parseRecipients(lines: readonly string[]): string[] {
  const recipients: string[] = [];
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    const problem = recipientProblem(line);
    if (problem !== undefined) {
      throw new ConfigurationError({
        input: 'recipients',
        subject: `line ${index + 1}`,
        ...problem,
      });
    }
    if (!recipients.includes(line)) recipients.push(line);
  }
  return recipients;
}

function recipientProblem(line: string): Problem | undefined {
  const hint = 'make one with age-keygen';
  if (ANY_IDENTITY.test(line)) {
    return {
      problem: 'is an age identity, a secret key: it was not printed',
      expected: RECIPIENT,
      hint: 'give its recipient instead: age-keygen -y KEY_FILE prints it',
    };
  }
  if (line.startsWith('age1pq1') || line.startsWith('age1tag')) {
    return { problem: 'only X25519 recipients are supported', got: quoted(line), hint };
  }
  const sshType = /^(ssh-|ecdsa-|sk-)\S*/.exec(line)?.[0];
  if (sshType !== undefined) {
    return { problem: 'SSH keys are not age recipients here', got: quoted(sshType), hint };
  }
  if (X25519_RECIPIENT.test(line)) {
    try {
      new Encrypter().addRecipient(line);
      return undefined;
    } catch {
      // A checksum that does not match: reported below with the line, which is public.
    }
  }
  return { expected: RECIPIENT, got: line.startsWith('age1') ? quoted(line) : undefined };
}

/**
 * The `AGE-SECRET-KEY-1…` lines of an identity, as age-keygen writes the file (comment lines
 * allowed). Errors give only line numbers: an identity line is a secret.
 */
export function parseIdentities(text: string): string[] {
  const identities: string[] = [];
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!X25519_IDENTITY.test(line)) {
      throw new ConfigurationError({
        input: 'identity',
        subject: `line ${index + 1}`,
        expected: 'an age X25519 identity (AGE-SECRET-KEY-1… from age-keygen)',
      });
    }
    identities.push(line);
  }
  if (identities.length === 0) {
    throw new ConfigurationError({
      input: 'identity',
      expected: 'an age identity (AGE-SECRET-KEY-1…)',
    });
  }
  return identities;
}

/** The `age1…` recipient of each identity line: what `age-keygen -y` prints. */
export function recipientsOf(identities: readonly string[]): Promise<string[]> {
  return Promise.all(identities.map((identity) => identityToRecipient(identity)));
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
    throw new ConfigurationError({
      input: 'recipients',
      expected: 'at least one age recipient to encrypt the secrets to',
    });
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
    throw new ConfigurationError({
      subject: 'secrets',
      problem: 'the ciphertext is not an armored age file',
      got: (error as Error).message,
    });
  }
  let plaintext: string;
  try {
    plaintext = await decrypter.decrypt(file, 'text');
  } catch (error) {
    const message = (error as Error).message;
    // age-encryption says so only in its message; it has no error type or code for it.
    if (/no identity matched/.test(message)) {
      throw new ConfigurationError({
        input: 'identity',
        problem: "does not decrypt the release's secrets: they were encrypted to other recipients",
      });
    }
    throw new ConfigurationError({
      subject: 'secrets',
      problem: 'the ciphertext is damaged',
      got: message,
    });
  }
  return parseSecretValues(plaintext);
}

/** The decrypted values; never shown in an error, whatever they hold. */
function parseSecretValues(plaintext: string): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(plaintext);
  } catch {
    throw new ConfigurationError({ subject: 'secrets', problem: 'the decrypted text is not JSON' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigurationError({
      subject: 'secrets',
      problem: 'the decrypted text is not a JSON object',
    });
  }
  const values: Record<string, string> = {};
  for (const [name, secret] of Object.entries(value)) {
    if (!ENV_NAME.test(name) || typeof secret !== 'string') {
      throw new ConfigurationError({
        subject: 'secrets',
        problem: 'a decrypted entry is not a name with a string value',
        got: quoted(name),
      });
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
