import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../shared/errors.js';
import {
  SIGNATURE_NAMESPACE,
  parseAllowedSigners,
  parseSigningKey,
  signMessage,
  verifyMessage,
} from '../../../shared/signature.js';

let dir: string;
const PRINCIPAL = 'release@example.com';

/** Runs ssh-keygen with `input` on stdin from a file, so an early exit cannot break a pipe. */
function sshKeygen(args: string[], input: string | Uint8Array = '') {
  const inputPath = join(dir, `stdin_${Math.random().toString(36).slice(2)}`);
  writeFileSync(inputPath, input);
  const stdin = openSync(inputPath, 'r');
  try {
    const result = spawnSync('ssh-keygen', args, {
      stdio: [stdin, 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    if (result.error) throw result.error;
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    closeSync(stdin);
  }
}

function makeKey(name: string, type = 'ed25519', passphrase = ''): string {
  const path = join(dir, name);
  const bits = type === 'rsa' ? ['-b', '2048'] : [];
  const made = sshKeygen([
    '-q',
    '-t',
    type,
    ...bits,
    '-N',
    passphrase,
    '-C',
    `${name}@test`,
    '-f',
    path,
  ]);
  expect(made.status, made.stderr).toBe(0);
  return path;
}

function publicLine(keyPath: string): string {
  return readFileSync(`${keyPath}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
}

function writeAllowedSigners(lines: string[]): string {
  const path = join(dir, `allowed_signers_${Math.random().toString(36).slice(2)}`);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

/** Runs `ssh-keygen -Y verify` on this signature over this message. */
function referenceVerify(
  message: Uint8Array,
  signature: string,
  allowedSignersPath: string,
  namespace = SIGNATURE_NAMESPACE,
  principal = PRINCIPAL,
) {
  const sigPath = join(dir, `sig_${Math.random().toString(36).slice(2)}`);
  writeFileSync(sigPath, signature);
  const result = sshKeygen(
    ['-Y', 'verify', '-f', allowedSignersPath, '-I', principal, '-n', namespace, '-s', sigPath],
    message,
  );
  return { ok: result.status === 0, stderr: result.stderr };
}

function referenceVerifies(message: Uint8Array, signature: string, allowedSignersPath: string) {
  return referenceVerify(message, signature, allowedSignersPath).ok;
}

function referenceSign(keyPath: string, message: Uint8Array, namespace = SIGNATURE_NAMESPACE) {
  const result = sshKeygen(['-Y', 'sign', '-f', keyPath, '-n', namespace], message);
  expect(result.status, result.stderr).toBe(0);
  return result.stdout;
}

function ourVerifyError(
  message: Uint8Array,
  signature: string,
  allowedSignersText: string,
  namespace?: string,
): string {
  try {
    verifyMessage(message, signature, parseAllowedSigners(allowedSignersText), { namespace });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('verifyMessage accepted the signature');
}

function reArmor(blob: Buffer): string {
  const lines = blob.toString('base64').match(/.{1,70}/g) ?? [];
  return `-----BEGIN SSH SIGNATURE-----\n${lines.join('\n')}\n-----END SSH SIGNATURE-----\n`;
}

function blobOf(armored: string): Buffer {
  const body = armored
    .split('\n')
    .filter((line) => line && !line.startsWith('-----'))
    .join('');
  return Buffer.from(body, 'base64');
}

let keyPath: string;
let otherKeyPath: string;
let allowedPath: string;
let allowedText: string;
const message = new TextEncoder().encode('{"app":"shop","id":"v1"}');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'brr-signature-'));
  keyPath = makeKey('release');
  otherKeyPath = makeKey('intruder');
  allowedText = `${PRINCIPAL} ${publicLine(keyPath)} a comment\n`;
  allowedPath = writeAllowedSigners([allowedText.trim()]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseSigningKey', () => {
  it('reads a key made by ssh-keygen -t ed25519 and gives its public line', () => {
    const key = parseSigningKey(readFileSync(keyPath, 'utf8'));
    expect(key.publicKey).toBe(publicLine(keyPath));
    expect(key.comment).toBe('release@test');
  });

  it('does not show the private key when the object is logged or serialised', () => {
    const text = readFileSync(keyPath, 'utf8');
    const key = parseSigningKey(text);
    expect(JSON.parse(JSON.stringify(key))).toEqual({
      publicKey: publicLine(keyPath),
      comment: 'release@test',
    });
    expect(inspect(key, { showHidden: true, depth: 10 })).not.toMatch(/seed|privateKey|KeyObject/);
  });

  it('refuses RSA and ECDSA keys, naming the type', () => {
    expect(() => parseSigningKey(readFileSync(makeKey('rsa', 'rsa'), 'utf8'))).toThrow(
      /expected an Ed25519 key, got an RSA key/,
    );
    expect(() => parseSigningKey(readFileSync(makeKey('ecdsa', 'ecdsa'), 'utf8'))).toThrow(
      /expected an Ed25519 key, got an ECDSA key/,
    );
  });

  it('refuses a passphrase-protected key', () => {
    const path = makeKey('locked', 'ed25519', 'correct horse');
    expect(() => parseSigningKey(readFileSync(path, 'utf8'))).toThrow(/protected by a passphrase/);
  });

  it('refuses what is not an OpenSSH private key, saying what it is', () => {
    expect(() => parseSigningKey(readFileSync(`${keyPath}.pub`, 'utf8'))).toThrow(
      /got a public key \(ssh-ed25519\)/,
    );
    expect(() =>
      parseSigningKey('-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----'),
    ).toThrow(/got a PEM "RSA PRIVATE KEY"/);
    expect(() => parseSigningKey('hunter2')).toThrow(ConfigurationError);
    expect(() => parseSigningKey('')).toThrow(/empty/);
    const truncated = readFileSync(keyPath, 'utf8').split('\n');
    truncated.splice(2, 2);
    expect(() => parseSigningKey(truncated.join('\n'))).toThrow(/damaged/);
  });

  it('accepts the key with CRLF line ends and surrounding blank lines, as pasted into a secret', () => {
    const text = `\n${readFileSync(keyPath, 'utf8').replace(/\n/g, '\r\n')}\n\n`;
    expect(parseSigningKey(text).publicKey).toBe(publicLine(keyPath));
  });
});

describe('signMessage', () => {
  it('writes exactly the bytes ssh-keygen -Y sign writes', () => {
    const ours = signMessage(message, parseSigningKey(readFileSync(keyPath, 'utf8')));
    expect(ours).toBe(referenceSign(keyPath, message));
  });

  it('makes signatures ssh-keygen -Y verify accepts, including over empty and binary messages', () => {
    const key = parseSigningKey(readFileSync(keyPath, 'utf8'));
    for (const bytes of [message, new Uint8Array(), new Uint8Array(70_000).map((_, i) => i * 7)]) {
      expect(referenceVerifies(bytes, signMessage(bytes, key), allowedPath)).toBe(true);
    }
  });
});

describe('verifyMessage', () => {
  it('accepts a signature made by ssh-keygen -Y sign and names the signer', () => {
    const signature = referenceSign(keyPath, message);
    expect(verifyMessage(message, signature, parseAllowedSigners(allowedText))).toEqual({
      principal: PRINCIPAL,
      publicKey: publicLine(keyPath),
    });
  });

  it('refuses, with ssh-keygen, a signature made for another namespace', () => {
    const key = parseSigningKey(readFileSync(keyPath, 'utf8'));
    const ours = signMessage(message, key, 'file');
    expect(referenceVerifies(message, ours, allowedPath)).toBe(false);
    expect(ourVerifyError(message, ours, allowedText)).toMatch(
      /^the signature: is made for another namespace; expected "build-release-run", got "file"$/,
    );
    const theirs = referenceSign(keyPath, message, 'file');
    expect(ourVerifyError(message, theirs, allowedText)).toMatch(/namespace; .*, got "file"$/);
  });

  it('refuses, with ssh-keygen, a key that is not in allowed signers', () => {
    const theirs = referenceSign(otherKeyPath, message);
    expect(referenceVerifies(message, theirs, allowedPath)).toBe(false);
    expect(ourVerifyError(message, theirs, allowedText)).toMatch(
      new RegExp(
        `^the signature: is made by a key that is not in allowed-signers; got ${publicLine(otherKeyPath).replace(/[+/]/g, '\\$&')}$`,
      ),
    );
  });

  it('refuses, with ssh-keygen, any one flipped byte in the message', () => {
    const signature = referenceSign(keyPath, message);
    for (const position of [0, 5, message.length - 1]) {
      const changed = Uint8Array.from(message);
      changed[position]! ^= 0x01;
      expect(referenceVerifies(changed, signature, allowedPath)).toBe(false);
      expect(ourVerifyError(changed, signature, allowedText)).toMatch(
        /does not match the signed bytes/,
      );
    }
    expect(ourVerifyError(new Uint8Array([...message, 0x0a]), signature, allowedText)).toMatch(
      /does not match/,
    );
  });

  it('refuses, with ssh-keygen, every one-byte flip anywhere in the signature blob', () => {
    const signature = referenceSign(keyPath, message);
    const blob = blobOf(signature);
    // Byte 9 is the low byte of the SSHSIG version: ssh-keygen also takes version 0, a change to
    // nothing that is signed; we take version 1 only.
    const versionLowByte = 9;
    for (let position = 0; position < blob.length; position++) {
      const changed = Buffer.from(blob);
      changed[position]! ^= 0x01;
      const armored = reArmor(changed);
      expect(referenceVerifies(message, armored, allowedPath), `ssh-keygen, byte ${position}`).toBe(
        position === versionLowByte,
      );
      expect(
        () => verifyMessage(message, armored, parseAllowedSigners(allowedText)),
        `byte ${position}`,
      ).toThrow(ConfigurationError);
    }
  });

  it('refuses bad armor, naming it', () => {
    expect(ourVerifyError(message, 'not a signature', allowedText)).toMatch(/BEGIN SSH SIGNATURE/);
    expect(ourVerifyError(message, '-----BEGIN SSH SIGNATURE-----\nAAAA\n', allowedText)).toMatch(
      /is missing -----END SSH SIGNATURE-----/,
    );
    expect(
      ourVerifyError(
        message,
        '-----BEGIN SSH SIGNATURE-----\n!!!!\n-----END SSH SIGNATURE-----\n',
        allowedText,
      ),
    ).toMatch(/not valid base64/);
    expect(
      ourVerifyError(
        message,
        reArmor(blobOf(referenceSign(keyPath, message)).subarray(0, 40)),
        allowedText,
      ),
    ).toMatch(/^the signature: is a malformed SSHSIG blob; got the signature is truncated$/);
  });

  it('honours namespaces= and validity options the way ssh-keygen does', () => {
    const signature = referenceSign(keyPath, message);
    const key = publicLine(keyPath);
    const cases: { line: string; accepted: boolean; why?: RegExp }[] = [
      { line: `${PRINCIPAL} namespaces="build-release-run" ${key}`, accepted: true },
      { line: `${PRINCIPAL} namespaces="git,build-*" ${key}`, accepted: true },
      {
        line: `${PRINCIPAL} namespaces="git,file" ${key}`,
        accepted: false,
        why: /namespaces="git,file" excludes/,
      },
      {
        line: `${PRINCIPAL} namespaces="*,!build-release-run" ${key}`,
        accepted: false,
        why: /excludes/,
      },
      { line: `${PRINCIPAL} valid-after="20200101" ${key}`, accepted: true },
      { line: `${PRINCIPAL} valid-before="20200101Z" ${key}`, accepted: false, why: /expired/ },
      {
        line: `${PRINCIPAL} valid-after="29990101000000Z" ${key}`,
        accepted: false,
        why: /not valid before/,
      },
      {
        line: `${PRINCIPAL} VALID-AFTER="20200101",namespaces="build-release-run" ${key} comment`,
        accepted: true,
      },
      { line: `"${PRINCIPAL}" ${key}`, accepted: true },
      { line: `other@example.com,${PRINCIPAL} ${key}`, accepted: true },
    ];
    for (const { line, accepted, why } of cases) {
      expect(referenceVerifies(message, signature, writeAllowedSigners([line])), line).toBe(
        accepted,
      );
      if (accepted) {
        expect(
          () => verifyMessage(message, signature, parseAllowedSigners(line)),
          line,
        ).not.toThrow();
      } else {
        expect(ourVerifyError(message, signature, line), line).toMatch(why!);
      }
    }
  });

  it('finds the key on any line, skipping lines that do not allow our namespace', () => {
    const signature = referenceSign(keyPath, message);
    const key = publicLine(keyPath);
    const text = [
      '# release signers',
      '',
      `git@example.com namespaces="git" ${key}`,
      `ops@example.com ${publicLine(otherKeyPath)}`,
      `${PRINCIPAL} namespaces="build-release-run" ${key}`,
    ].join('\n');
    expect(verifyMessage(message, signature, parseAllowedSigners(text)).principal).toBe(PRINCIPAL);
  });

  it('ignores cert-authority lines and says so when nothing else matches', () => {
    const signature = referenceSign(keyPath, message);
    const text = `*@example.com cert-authority ${publicLine(keyPath)}`;
    expect(referenceVerifies(message, signature, writeAllowedSigners([text]))).toBe(false);
    expect(ourVerifyError(message, signature, text)).toMatch(/cert-authority lines are ignored/);
  });

  it('refuses signatures by keys of other types, naming the type', () => {
    const rsa = makeKey('rsa-signer', 'rsa');
    const signature = referenceSign(rsa, message);
    const text = `${PRINCIPAL} ${publicLine(rsa)}`;
    expect(referenceVerifies(message, signature, writeAllowedSigners([text]))).toBe(true);
    expect(ourVerifyError(message, signature, text)).toMatch(
      /^the signature: is made with a key of another type; expected an Ed25519 key, got an RSA key$/,
    );
  });
});

describe('verifyMessage and untrusted text', () => {
  /** SSHSIG's wire string: a uint32 length, then the bytes. */
  const wire = (value: Buffer | string) => {
    const bytes = Buffer.from(value);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };

  it('shows a forged namespace of 700 KB escaped and cut short, on one line', () => {
    // No signing key is needed to write this: only write access to a release's assets.
    const namespace = `\u0000\u001b[2J${'n'.repeat(700 * 1024)}`;
    const forged = Buffer.concat([
      Buffer.from('SSHSIG'),
      Buffer.from([0, 0, 0, 1]),
      wire(Buffer.from(publicLine(keyPath).split(' ')[1]!, 'base64')),
      wire(namespace),
      wire(''),
      wire('sha512'),
      wire(Buffer.concat([wire('ssh-ed25519'), wire(Buffer.alloc(64))])),
    ]);
    const error = ourVerifyError(message, reArmor(forged), allowedText);
    expect(error).toMatch(
      /^the signature: is made for another namespace; expected "build-release-run", got "\\u0000\\u001b\[2Jnnn/,
    );
    // eslint-disable-next-line no-control-regex
    expect(error).not.toMatch(/[\u0000-\u001f]/);
    expect(error.length).toBeLessThan(600);
  });
});

describe('parseAllowedSigners', () => {
  it('reads principals, options, key and line numbers', () => {
    const key = publicLine(keyPath);
    const signers = parseAllowedSigners(
      `# comment\n\n  ${PRINCIPAL},ops@* namespaces="build-release-run",valid-before="20991231Z" ${key} laptop\r\n`,
    );
    expect(signers).toEqual([
      {
        principals: `${PRINCIPAL},ops@*`,
        namespaces: 'build-release-run',
        validBefore: new Date(Date.UTC(2099, 11, 31)),
        certAuthority: false,
        keyType: 'ssh-ed25519',
        publicKey: key,
        line: 3,
      },
    ]);
  });

  it('refuses malformed lines with their line number, where ssh-keygen warns and skips them', () => {
    const key = publicLine(keyPath);
    const bad: [string, RegExp][] = [
      [`${PRINCIPAL}`, /^Input 'allowed-signers': line 2: expected "principals/],
      [`${PRINCIPAL} ssh-ed25519`, /line 2: the ssh-ed25519 key has no base64 key data/],
      [`${PRINCIPAL} ssh-ed25519 !!!`, /line 2: the ssh-ed25519 key has no base64 key data/],
      [`${PRINCIPAL} bogus="x" ${key}`, /line 2: has an unknown option; got "bogus"$/],
      [`${PRINCIPAL} namespaces=git ${key}`, /line 2: option namespaces needs a quoted value/],
      [`${PRINCIPAL} namespaces="git ${key}`, /line 2: .*closing quote/],
      [
        `${PRINCIPAL} valid-after="2020" ${key}`,
        /line 2: invalid "valid-after" time; expected YYYYMMDD\[HHMM\[SS\]\]\[Z\], got "2020"$/,
      ],
      [
        `${PRINCIPAL} valid-after="20201341" ${key}`,
        /line 2: invalid "valid-after" time: no such date; got "20201341"$/,
      ],
      [
        `${PRINCIPAL} valid-after="20300101",valid-before="20200101" ${key}`,
        /line 2: "valid-before" time is before "valid-after"/,
      ],
      [
        `${PRINCIPAL} namespaces="a",namespaces="b" ${key}`,
        /line 2: multiple "namespaces" clauses/,
      ],
      [
        `${PRINCIPAL} ssh-rsa ${key.split(' ')[1]}`,
        /line 2: the ssh-rsa key data is invalid; got the key data is a ssh-ed25519 key$/,
      ],
      [`"${PRINCIPAL} ${key}`, /line 2: the quoted principals have no closing quote/],
    ];
    const signature = referenceSign(keyPath, message);
    const goodLine = `${PRINCIPAL} ${key}`;
    for (const [line, why] of bad) {
      expect(() => parseAllowedSigners(`# ok\n${line}\n${goodLine}\n`), line).toThrow(why);
      const path = writeAllowedSigners(['# ok', line, goodLine]);
      const reference = referenceVerify(message, signature, path);
      expect(reference.stderr, line).toContain(`${path}:2: `);
      expect(reference.ok, line).toBe(true);
    }
  });
});
