import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../shared/errors.js';
import {
  type Manifest,
  type StoredManifest,
  BuildFacts,
  canonicalJson,
  chainTo,
  changeSummary,
  configDiff,
  digestOf,
  parseBuildFacts,
  parseManifest,
  serializeManifest,
  checkPreviousLink,
} from '../../../shared/manifest.js';

const SHA_A = '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d';
const SHA_B = '9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c';
const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;
const CIPHERTEXT =
  '-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCg==\n-----END AGE ENCRYPTED FILE-----\n';
const fingerprint = (c: string) => `hmac-sha256:${c.repeat(64)}`;

function manifest(overrides: Partial<Manifest> = {}): Manifest {
  return {
    schemaVersion: 1,
    app: 'shop',
    environment: 'production',
    id: 'v1',
    created: '2025-03-01T12:00:00Z',
    actor: 'octocat',
    run: { id: 1234, attempt: 1, url: 'https://github.com/acme/shop/actions/runs/1234' },
    build: {
      sha: SHA_A,
      digest: DIGEST_A,
      size: 1024,
      compression: 'zstd',
      artifact: { id: 99, name: `shop-${SHA_A}` },
    },
    config: {
      vars: { PORT: '8080', LOG_LEVEL: 'info' },
      secrets: {
        names: ['API_KEY', 'DB_URL'],
        fingerprints: { API_KEY: fingerprint('1'), DB_URL: fingerprint('2') },
        ciphertext: CIPHERTEXT,
      },
    },
    previous: null,
    changes: 'Initial release of 1a2b3c4',
    ...overrides,
  };
}

function withConfig(
  base: Manifest,
  vars: Record<string, string>,
  secrets: Record<string, string> | null,
): Manifest {
  return {
    ...base,
    config: {
      vars,
      secrets: secrets && {
        names: Object.keys(secrets).sort(),
        fingerprints: secrets,
        ciphertext: CIPHERTEXT,
      },
    },
  };
}

function bytesOf(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

function parseError(bytes: Uint8Array): string {
  try {
    parseManifest(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('parseManifest accepted it');
}

describe('canonicalJson', () => {
  it('sorts keys by UTF-16 code units, as RFC 8785 section 3.2.3 shows', () => {
    const value = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    const text = canonicalJson(value);
    const order = Object.values(value).sort((a, b) => text.indexOf(a) - text.indexOf(b));
    expect(order).toEqual([
      'Carriage Return',
      'One',
      'Control',
      'Latin Small Letter O With Diaeresis',
      'Euro Sign',
      'Emoji: Grinning Face',
      'Hebrew Letter Dalet With Dagesh',
    ]);
    expect(text.startsWith('{"\\r":"Carriage Return","1":"One","\u0080":"Control"')).toBe(true);
  });

  it('writes numbers, strings and literals as RFC 8785 section 3.2.4 shows', () => {
    expect(
      canonicalJson({
        numbers: [Number('333333333.33333329'), 1e30, 4.5, 2e-3, 0.000000000000000000000000001],
        string: '\u20ac$\u000f\nA\'B"\\\\"/',
        literals: [null, true, false],
      }),
    ).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('gives the same text whatever the insertion order', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe(
      canonicalJson({ a: { c: 3, d: 2 }, b: 1 }),
    );
  });
});

describe('serializeManifest and parseManifest', () => {
  it('round-trips a manifest through canonical UTF-8 bytes without a trailing newline', () => {
    const m = manifest({ changes: 'Config add DB_URL — café' });
    const bytes = serializeManifest(m);
    const text = new TextDecoder().decode(bytes);
    expect(text.endsWith('}')).toBe(true);
    expect(text).toBe(canonicalJson(JSON.parse(text)));
    expect(text.startsWith('{"actor":"octocat","app":"shop","build":{')).toBe(true);
    expect(parseManifest(bytes)).toEqual(m);
  });

  it('writes the same bytes whatever order the fields were set in', () => {
    const m = manifest();
    const reordered = Object.fromEntries(Object.entries(m).reverse()) as Manifest;
    expect(serializeManifest(reordered)).toEqual(serializeManifest(m));
  });

  it('refuses to write an invalid manifest', () => {
    expect(() => serializeManifest(manifest({ id: '../x' }))).toThrow(/field id/);
  });

  it('refuses a newer schema version with a clear message', () => {
    expect(parseError(bytesOf({ ...manifest(), schemaVersion: 2 }))).toBe(
      'release.json: has schema version 2, newer than this action understands (1); update build-release-run',
    );
  });

  it('refuses malformed JSON and non-objects', () => {
    expect(parseError(new TextEncoder().encode('{"app":'))).toMatch(
      /^release.json: is not valid JSON; got /,
    );
    expect(parseError(new Uint8Array([0x7b, 0xff, 0x7d]))).toMatch(/not valid JSON/);
    expect(parseError(bytesOf([1, 2]))).toBe('release.json: expected a JSON object');
  });

  it('names the field that is wrong, missing or unknown', () => {
    const m = manifest();
    expect(parseError(bytesOf({ ...m, schemaVersion: 0 }))).toMatch(/field schemaVersion/);
    const withoutActor: Partial<Manifest> = { ...m };
    delete withoutActor.actor;
    expect(parseError(bytesOf(withoutActor))).toBe('release.json field actor: is missing');
    expect(parseError(bytesOf({ ...m, extra: 1 }))).toBe(
      'release.json: has an unknown field; got extra',
    );
    expect(parseError(bytesOf({ ...m, build: { ...m.build, files: 3 } }))).toBe(
      'release.json: has an unknown field; got build.files',
    );
    expect(parseError(bytesOf({ ...m, build: { ...m.build, digest: 'md5:abc' } }))).toMatch(
      /^release.json field build.digest: expected sha256:/,
    );
    expect(parseError(bytesOf({ ...m, build: { ...m.build, compression: 'xz' } }))).toMatch(
      /field build.compression/,
    );
    expect(parseError(bytesOf({ ...m, created: 'yesterday' }))).toMatch(
      /field created: expected an ISO/,
    );
    expect(parseError(bytesOf(withConfig(m, { 'BAD-NAME': 'x' }, null)))).toMatch(
      /field config.vars.BAD-NAME/,
    );
    expect(parseError(bytesOf(withConfig(m, { PORT: '1' }, { PORT: fingerprint('3') })))).toBe(
      'release.json field config.vars.PORT: is also a secret name',
    );
    expect(parseError(bytesOf({ ...m, id: 'latest' }))).toBe(
      `release.json field id: expected a release ID other than 'latest' and 'previous' (they select a release), not ending in .tmp, got "latest"`,
    );
    const unsorted = { ...m.config.secrets!, names: ['DB_URL', 'API_KEY'] };
    expect(parseError(bytesOf({ ...m, config: { ...m.config, secrets: unsorted } }))).toMatch(
      /field config.secrets.names: expected sorted, unique names/,
    );
    const missing = { ...m.config.secrets!, fingerprints: { API_KEY: fingerprint('1') } };
    expect(parseError(bytesOf({ ...m, config: { ...m.config, secrets: missing } }))).toMatch(
      /field config.secrets.fingerprints: expected one fingerprint for each secret name/,
    );
    const plain = { ...m.config.secrets!, ciphertext: 'DB_URL=postgres://' };
    expect(parseError(bytesOf({ ...m, config: { ...m.config, secrets: plain } }))).toMatch(
      /field config.secrets.ciphertext: expected an armored age file/,
    );
  });

  it('names the file it was told in errors', () => {
    expect(() => parseManifest(new Uint8Array(), 'shop/production/v3 release.json')).toThrow(
      /^shop\/production\/v3 release.json: is not valid JSON; got /,
    );
  });
});

describe('digestOf', () => {
  it('is sha256: and the hex digest sha256sum prints', () => {
    const bytes = serializeManifest(manifest());
    const reference = execFileSync('sha256sum', { input: bytes, encoding: 'utf8' }).split(' ')[0];
    expect(digestOf(bytes)).toBe(`sha256:${reference}`);
    expect(digestOf(new Uint8Array())).toBe(
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });
});

describe('BuildFacts', () => {
  const facts = {
    app: 'shop',
    sha: SHA_A,
    ref: 'refs/heads/main',
    runId: 1234,
    runAttempt: 2,
    digest: DIGEST_A,
    size: 2048,
    files: 12,
    compression: 'gzip',
    created: '2025-03-01T12:00:00.123Z',
    artifact: { id: 7, name: `shop-${SHA_A}` },
  };

  it('accepts what the build stage records', () => {
    expect(BuildFacts.parse(facts)).toEqual(facts);
  });

  it('refuses unknown fields and bad values, naming them', () => {
    expect(() => parseBuildFacts({ ...facts, extra: true })).toThrow(
      'build facts: has an unknown field; got extra',
    );
    expect(() => parseBuildFacts({ ...facts, sha: 'main' })).toThrow(
      /field sha: expected a full commit SHA/,
    );
    expect(() => parseBuildFacts({ ...facts, size: -1 })).toThrow(/field size/);
    expect(() => parseBuildFacts({ ...facts, compression: 'bzip2' })).toThrow(/field compression/);
  });
});

describe('hash chain', () => {
  function ledger(length: number): StoredManifest[] {
    const entries: StoredManifest[] = [];
    for (let n = 1; n <= length; n++) {
      const m = manifest({
        id: `v${n}`,
        previous: chainTo(entries.at(-1)),
        changes: `release ${n}`,
      });
      entries.push({ manifest: m, bytes: serializeManifest(m) });
    }
    return entries;
  }

  it('links each release to the digest of the bytes before it', () => {
    const entries = ledger(3);
    expect(chainTo(undefined)).toBeNull();
    expect(entries[2]!.manifest.previous).toEqual({
      id: 'v2',
      digest: digestOf(entries[1]!.bytes),
    });
    expect(() => checkPreviousLink(entries[1]!, entries[0]!)).not.toThrow();
    expect(() => checkPreviousLink(entries[2]!, entries[1]!)).not.toThrow();
  });

  it('refuses a link to a release that was changed afterwards', () => {
    const entries = ledger(4);
    const tampered = { ...entries[1]!.manifest, changes: 'nothing to see' };
    entries[1] = { manifest: tampered, bytes: serializeManifest(tampered) };
    expect(() => checkPreviousLink(entries[2]!, entries[1]!)).toThrow(
      /^release shop\/production\/v3: records v2 as sha256:[0-9a-f]{64}, but v2's release.json is sha256:[0-9a-f]{64}; v2 was changed after v3 was made$/,
    );
  });

  it('names a release whose link skips or drops its predecessor', () => {
    const entries = ledger(3);
    expect(() => checkPreviousLink(entries[2]!, entries[0]!)).toThrow(
      'release shop/production/v3: names v2 as its previous release, but v1 comes before it; the ledger is broken',
    );
    const orphan = { ...entries[1]!.manifest, previous: null };
    expect(() =>
      checkPreviousLink({ manifest: orphan, bytes: serializeManifest(orphan) }, entries[0]!),
    ).toThrow(
      'release shop/production/v2: names no previous release, but v1 comes before it; the ledger is broken',
    );
  });

  it('refuses to chain releases of different environments', () => {
    const [first] = ledger(1);
    const other = manifest({ environment: 'staging', id: 'v2', previous: chainTo(first) });
    expect(() =>
      checkPreviousLink({ manifest: other, bytes: serializeManifest(other) }, first!),
    ).toThrow(/a release of another ledger/);
  });
});

describe('configDiff and changeSummary', () => {
  const first = withConfig(manifest(), { PORT: '8080' }, { DB_URL: fingerprint('1') });

  it('summarises the first release', () => {
    expect(changeSummary(undefined, first)).toBe('Initial release of 1a2b3c4');
    expect(configDiff(undefined, first)).toEqual({
      added: ['DB_URL', 'PORT'],
      changed: [],
      removed: [],
    });
  });

  it('says Deploy when only the build changed', () => {
    const next = { ...first, build: { ...first.build, sha: SHA_B, digest: DIGEST_B } };
    expect(changeSummary(first, next)).toBe('Deploy 9f8e7d6');
  });

  it('says Config with names only when only config changed', () => {
    const next = withConfig(
      first,
      { PORT: '9090' },
      { DB_URL: fingerprint('1'), API_KEY: fingerprint('2') },
    );
    expect(configDiff(first, next)).toEqual({ added: ['API_KEY'], changed: ['PORT'], removed: [] });
    expect(changeSummary(first, next)).toBe('Config add API_KEY, change PORT');
  });

  it('compares secrets by fingerprint, never showing a value', () => {
    const next = withConfig(first, { PORT: '8080' }, { DB_URL: fingerprint('9') });
    expect(changeSummary(first, next)).toBe('Config change DB_URL');
  });

  it('says both when build and config changed', () => {
    const next = withConfig(
      { ...first, build: { ...first.build, sha: SHA_B, digest: DIGEST_B } },
      {},
      { DB_URL: fingerprint('1') },
    );
    expect(changeSummary(first, next)).toBe('Deploy 9f8e7d6, config remove PORT');
  });

  it('counts a key moved between vars and secrets as changed', () => {
    const next = withConfig(first, {}, { DB_URL: fingerprint('1'), PORT: fingerprint('4') });
    expect(configDiff(first, next)).toEqual({ added: [], changed: ['PORT'], removed: [] });
  });

  it('says Rerelease when nothing changed', () => {
    expect(changeSummary(first, { ...first, id: 'v2' })).toBe('Rerelease 1a2b3c4');
  });

  it('keeps long lists to one short line', () => {
    const vars = Object.fromEntries(['A', 'B', 'C', 'D', 'E', 'F', 'G'].map((k) => [k, '1']));
    expect(
      changeSummary(
        first,
        withConfig(first, { ...vars, PORT: '8080' }, { DB_URL: fingerprint('1') }),
      ),
    ).toBe('Config add A, B, C, D, E and 2 more');
  });
});
