import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../shared/errors.js';
import { canonicalJson } from '../../../shared/manifest.js';
import {
  decryptSecrets,
  encryptSecrets,
  parseRecipients,
  secretFingerprints,
} from '../../../shared/secrets.js';
import { parseSigningKey } from '../../../shared/signature.js';

let dir: string;

interface AgeKey {
  path: string;
  file: string;
  identity: string;
  recipient: string;
}

function ageKeygen(name: string): AgeKey {
  const path = join(dir, name);
  execFileSync('age-keygen', ['-o', path], { stdio: 'pipe' });
  const file = readFileSync(path, 'utf8');
  const identity = file.split('\n').find((line) => line.startsWith('AGE-SECRET-KEY-1'))!;
  const recipient = execFileSync('age-keygen', ['-y', path], { encoding: 'utf8' }).trim();
  return { path, file, identity, recipient };
}

function ageDecrypt(armored: string, identityPath: string) {
  const input = join(dir, `ct_${Math.random().toString(36).slice(2)}`);
  writeFileSync(input, armored);
  return spawnSync('age', ['-d', '-i', identityPath, input], { encoding: 'utf8' });
}

const values = {
  DB_URL: 'postgres://app:p@ss w0rd!@db/app?sslmode=require',
  API_KEY: 'sk_live_\u00e9\u{1F511}"quoted"\n\\backslash',
  EMPTY: '',
};

let alice: AgeKey;
let bob: AgeKey;
let mallory: AgeKey;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'brr-secrets-'));
  alice = ageKeygen('alice.txt');
  bob = ageKeygen('bob.txt');
  mallory = ageKeygen('mallory.txt');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function errorOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('it did not fail');
}

describe('encryptSecrets', () => {
  it('writes an armored age file that age -d decrypts to the canonical JSON of the values', async () => {
    const armored = await encryptSecrets(values, [alice.recipient]);
    expect(armored.startsWith('-----BEGIN AGE ENCRYPTED FILE-----\n')).toBe(true);
    expect(armored.endsWith('-----END AGE ENCRYPTED FILE-----\n')).toBe(true);
    const result = ageDecrypt(armored, alice.path);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(canonicalJson(values));
    expect(JSON.parse(result.stdout)).toEqual(values);
  });

  it('encrypts to every recipient and to no one else', async () => {
    const armored = await encryptSecrets(values, [alice.recipient, bob.recipient]);
    expect(ageDecrypt(armored, alice.path).stdout).toBe(canonicalJson(values));
    expect(ageDecrypt(armored, bob.path).stdout).toBe(canonicalJson(values));
    const refused = ageDecrypt(armored, mallory.path);
    expect(refused.status).not.toBe(0);
    expect(refused.stdout).toBe('');
  });

  it('never carries a value in plain text', async () => {
    const armored = await encryptSecrets(values, [alice.recipient]);
    const raw = Buffer.from(
      armored
        .split('\n')
        .filter((line) => line && !line.startsWith('-----'))
        .join(''),
      'base64',
    ).toString('latin1');
    for (const secret of ['p@ss w0rd', 'sk_live_', 'DB_URL']) {
      expect(armored).not.toContain(secret);
      expect(raw).not.toContain(secret);
    }
  });

  it('needs a recipient', async () => {
    expect(await errorOf(encryptSecrets(values, []))).toBe(
      "Input 'recipients': expected at least one age recipient to encrypt the secrets to",
    );
  });
});

describe('decryptSecrets', () => {
  it('decrypts what age -r -a encrypted, with the identity file as age-keygen wrote it', async () => {
    const armored = execFileSync('age', ['-r', alice.recipient, '-a'], {
      input: canonicalJson(values),
      encoding: 'utf8',
    });
    expect(await decryptSecrets(armored, alice.file)).toEqual(values);
    expect(await decryptSecrets(armored, alice.identity)).toEqual(values);
  });

  it('round-trips our own encryption, with any one of several identities', async () => {
    const armored = await encryptSecrets(values, [bob.recipient]);
    expect(await decryptSecrets(armored, `${mallory.identity}\n${bob.identity}\n`)).toEqual(values);
  });

  it('refuses a wrong identity with a clear error', async () => {
    const armored = await encryptSecrets(values, [alice.recipient]);
    expect(await errorOf(decryptSecrets(armored, mallory.file))).toBe(
      "Input 'identity': does not decrypt the release's secrets: they were encrypted to other recipients",
    );
  });

  it('refuses a malformed identity without echoing it', async () => {
    const armored = await encryptSecrets(values, [alice.recipient]);
    const typo = alice.identity.slice(0, -1);
    const message = await errorOf(decryptSecrets(armored, `# key\n${typo}`));
    expect(message).toBe(
      "Input 'identity': line 2: expected an age X25519 identity (AGE-SECRET-KEY-1… from age-keygen)",
    );
    expect(message).not.toContain(typo.slice(16));
    expect(await errorOf(decryptSecrets(armored, '# only comments\n'))).toMatch(
      /expected an age identity/,
    );
  });

  it('refuses damaged or foreign ciphertext', async () => {
    const armored = await encryptSecrets(values, [alice.recipient]);
    expect(await errorOf(decryptSecrets('DB_URL=x', alice.identity))).toMatch(
      /^secrets: the ciphertext is not an armored age file; got /,
    );
    const lines = armored.split('\n');
    const last = lines.length - 3;
    lines[last] = lines[last]!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    expect(await errorOf(decryptSecrets(lines.join('\n'), alice.identity))).toMatch(
      /^secrets: the ciphertext is damaged; got /,
    );
  });

  it('refuses decrypted text that is not a map of names to strings', async () => {
    for (const plaintext of ['not json', '[1]', '{"A":1}', '{"bad-name":"x"}']) {
      const armored = execFileSync('age', ['-r', alice.recipient, '-a'], {
        input: plaintext,
        encoding: 'utf8',
      });
      expect(await errorOf(decryptSecrets(armored, alice.identity)), plaintext).toMatch(
        /^secrets:/,
      );
    }
  });
});

describe('recipients', () => {
  it('accepts X25519 recipients and drops duplicates', () => {
    expect(parseRecipients([alice.recipient, ` ${bob.recipient} `, alice.recipient])).toEqual([
      alice.recipient,
      bob.recipient,
    ]);
  });

  it('refuses other lines, naming the line', () => {
    const flipped = alice.recipient.slice(0, -1) + (alice.recipient.endsWith('q') ? 'p' : 'q');
    const bad: [string, RegExp][] = [
      [flipped, /^Input 'recipients': line 2: expected an age X25519 recipient .*, got "age1/],
      ['age1pq1' + 'q'.repeat(80), /^Input 'recipients': line 2: only X25519 recipients are/],
      [
        'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA',
        /^Input 'recipients': line 2: SSH keys are not age recipients here; got "ssh-ed25519";/,
      ],
      ['', /^Input 'recipients': line 2: expected an age X25519 recipient \([^)]*\)$/],
      ['hunter2', /^Input 'recipients': line 2: expected an age X25519 recipient \([^)]*\)$/],
    ];
    for (const [line, why] of bad) {
      expect(() => parseRecipients([bob.recipient, line]), line).toThrow(why);
    }
  });

  it('refuses an age identity given as a recipient without printing it', () => {
    for (const identity of [alice.identity, alice.identity.toLowerCase()]) {
      let error: unknown;
      try {
        parseRecipients([bob.recipient, identity]);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigurationError);
      const { message, problem } = error as ConfigurationError;
      expect(message).toBe(
        "Input 'recipients': line 2: is an age identity, a secret key: it was not printed; expected an age X25519 recipient (age1… as age-keygen -y prints it); give its recipient instead: age-keygen -y KEY_FILE prints it",
      );
      expect(JSON.stringify(problem)).not.toContain(identity.slice(16, 30));
    }
  });
});

describe('secretFingerprints', () => {
  const keygen = (name: string) => {
    const path = join(dir, name);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
    return parseSigningKey(readFileSync(path, 'utf8'));
  };

  it('is a stable keyed digest per name, which another key or a plain hash does not reproduce', () => {
    const key = keygen('signing');
    const again = parseSigningKey(readFileSync(join(dir, 'signing'), 'utf8'));
    const fingerprints = secretFingerprints(values, key);
    expect(Object.keys(fingerprints)).toEqual(['API_KEY', 'DB_URL', 'EMPTY']);
    for (const fingerprint of Object.values(fingerprints)) {
      expect(fingerprint).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    }
    expect(secretFingerprints(values, again)).toEqual(fingerprints);

    const other = secretFingerprints(values, keygen('other-signing'));
    for (const name of Object.keys(values)) expect(other[name]).not.toBe(fingerprints[name]);

    const plain = createHash('sha256').update(values.DB_URL).digest('hex');
    expect(fingerprints.DB_URL).not.toContain(plain);
  });

  it('changes when a value changes, and differs between names that share a value', () => {
    const key = keygen('signing-2');
    const before = secretFingerprints({ A: 'same', B: 'same' }, key);
    const after = secretFingerprints({ A: 'same', B: 'changed' }, key);
    expect(before.A).not.toBe(before.B);
    expect(after.A).toBe(before.A);
    expect(after.B).not.toBe(before.B);
  });
});
