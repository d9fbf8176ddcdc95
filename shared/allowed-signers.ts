import { ConfigurationError, quoted, type Problem } from './errors.js';
import { Reader } from './ssh-wire.js';

/** What is wrong with one line; the error adds the input and the line number. */
type LineProblem = Pick<Problem, 'problem' | 'expected' | 'got' | 'hint'>;
type Fail = (problem: LineProblem) => never;

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

/** The one line that trusts `publicKey` (`ssh-ed25519 AAAA…`) for any principal and namespace. */
export function keySigner(publicKey: string): AllowedSigner {
  const [keyType = ''] = publicKey.split(' ');
  return { principals: '*', certAuthority: false, keyType, publicKey, line: 0 };
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
    const fail: Fail = (problem) => {
      throw new ConfigurationError({
        input: 'allowed-signers',
        subject: `line ${number}`,
        ...problem,
      });
    };
    let rest = line;
    let principals: string;
    if (rest.startsWith('"')) {
      const close = rest.indexOf('"', 1);
      if (close === -1) fail({ problem: 'the quoted principals have no closing quote' });
      principals = rest.slice(1, close);
      rest = rest.slice(close + 1).trimStart();
    } else {
      const match = /^(\S+)\s+(.*)$/.exec(rest);
      if (!match) return fail({ expected: '"principals [options] ssh-ed25519 AAAA…"' });
      principals = match[1]!;
      rest = match[2]!;
    }
    if (principals === '') fail({ problem: 'the principals field is empty' });
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
    if (keyType === undefined || keyType === '') return fail({ problem: 'the key is missing' });
    if (!KNOWN_KEY_TYPE.test(keyType)) {
      return fail({ problem: 'has an unknown key type', got: quoted(keyType) });
    }
    if (keyData === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(keyData)) {
      return fail({ problem: `the ${keyType} key has no base64 key data` });
    }
    try {
      const embedded = new Reader(Buffer.from(keyData, 'base64'), 'the key').text();
      if (embedded !== keyType) throw new Error(`the key data is a ${embedded} key`);
    } catch (error) {
      fail({ problem: `the ${keyType} key data is invalid`, got: (error as Error).message });
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
function splitOptions(text: string, fail: Fail): { text: string; rest: string } {
  let open = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && open && text[i + 1] === '"') i++;
    else if (c === '"') open = !open;
    else if (!open && (c === ' ' || c === '\t'))
      return { text: text.slice(0, i), rest: text.slice(i) };
  }
  if (open) fail({ problem: 'an option value has no closing quote' });
  return fail({ problem: 'the key is missing after the options' });
}

function parseSignerOptions(
  text: string,
  fail: Fail,
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
      if (i >= rest.length) fail({ problem: `option ${name} has no closing quote` });
      value = out;
      rest = rest.slice(i + 1);
    }
    const needsValue = (): string =>
      value ?? fail({ problem: `option ${name} needs a quoted value, like ${name}="…"` });
    const once = (set: unknown) => {
      if (set !== undefined) fail({ problem: `multiple "${name}" clauses` });
    };
    switch (name) {
      case 'cert-authority':
        if (value !== undefined) fail({ problem: 'option cert-authority takes no value' });
        result.certAuthority = true;
        break;
      case 'namespaces':
        once(result.namespaces);
        result.namespaces = needsValue();
        break;
      case 'valid-after':
        once(result.validAfter);
        result.validAfter = parseSignerTime(needsValue(), name, fail);
        break;
      case 'valid-before':
        once(result.validBefore);
        result.validBefore = parseSignerTime(needsValue(), name, fail);
        break;
      default:
        fail({ problem: 'has an unknown option', got: quoted(name || rest) });
    }
    if (rest === '') break;
    if (!rest.startsWith(',')) {
      fail({ problem: `unexpected text after option ${name}`, got: quoted(rest) });
    }
    rest = rest.slice(1);
    if (rest === '') fail({ problem: 'unexpected end of options after ","' });
  }
  if (result.validAfter && result.validBefore && result.validBefore <= result.validAfter) {
    fail({ problem: '"valid-before" time is before "valid-after"' });
  }
  return result;
}

/** `YYYYMMDD[HHMM[SS]]`, UTC with a `Z` (or `UTC`) suffix and local time without, as ssh-keygen. */
function parseSignerTime(text: string, option: string, fail: Fail): Date {
  const match = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z|UTC)?$/i.exec(text);
  if (!match) {
    return fail({
      problem: `invalid "${option}" time`,
      expected: 'YYYYMMDD[HHMM[SS]][Z]',
      got: quoted(text),
    });
  }
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
    fail({ problem: `invalid "${option}" time: no such date`, got: quoted(text) });
  }
  return date;
}
