import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { zstdCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../shared/errors.js';
import { findRelease, type LedgerScope } from '../../../shared/ledger.js';
import type { Log } from '../../../shared/log.js';
import { parseAllowedSigners } from '../../../shared/signature.js';
import {
  verifyBundle,
  verifyManifest,
  verifyPreviousLink,
  type VerifiedManifest,
} from '../../../shared/verify.js';
import { receive } from '../../../shared/ledger.js';
import { startGitHub, type GitHubEmulator } from '../../emulator/index.js';
import {
  appTree,
  emulatorClient,
  makeKeys,
  makeSigner,
  pack,
  publishRelease,
  type PackedBundle,
  type PublishOptions,
  type ReleaseKeys,
} from '../../helpers/releases.js';
import { handMadeTar } from './bundle-helpers.js';

const SHA = 'a'.repeat(40);
let github: GitHubEmulator;
let keys: ReleaseKeys;
let bundle: PackedBundle;
let scratch: string;

beforeAll(async () => {
  [github, keys] = await Promise.all([startGitHub(), makeKeys()]);
  bundle = await pack(await appTree(), 'shop', SHA);
  scratch = await mkdtemp(path.join(tmpdir(), 'verify-test-'));
});

afterAll(async () => {
  await github?.stop();
  await rm(scratch, { recursive: true, force: true });
});

const log: Log = {
  info: () => undefined,
  warning: () => undefined,
  setSecret: () => undefined,
} as unknown as Log;

let repositories = 0;

function newScope(): LedgerScope {
  const repo = `shop-${++repositories}`;
  github.createRepository(`acme/${repo}`);
  return { owner: 'acme', repo, app: 'shop', environment: 'production' };
}

function publish(scope: LedgerScope, id: string, options: Partial<PublishOptions> = {}) {
  return publishRelease(github, {
    repository: `${scope.owner}/${scope.repo}`,
    app: 'shop',
    environment: 'production',
    id,
    sha: SHA,
    bundle,
    keys,
    ...options,
  });
}

async function verified(scope: LedgerScope, id: string): Promise<VerifiedManifest> {
  const client = emulatorClient(github);
  const entry = await findRelease(client, scope, id);
  if (!entry) throw new Error(`no release ${id}`);
  return verifyManifest(client, scope, entry, parseAllowedSigners(keys.allowedSigners));
}

async function refusal(work: Promise<unknown>): Promise<string> {
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ConfigurationError);
  return (error as Error).message;
}

describe('verifyPreviousLink', () => {
  const options = (scope: LedgerScope) => ({
    scope,
    allowedSigners: parseAllowedSigners(keys.allowedSigners),
  });

  it('finds the release before, checked, and has nothing to check for the first', async () => {
    const scope = newScope();
    const v1 = await publish(scope, 'v1');
    await publish(scope, 'v2', { previous: v1 });
    const client = emulatorClient(github);
    expect(await verifyPreviousLink(client, await verified(scope, 'v1'), options(scope))).toBe(
      undefined,
    );
    const before = await verifyPreviousLink(client, await verified(scope, 'v2'), options(scope));
    expect(before?.manifest.id).toBe('v1');
    expect(before?.bytes.equals(v1.manifestBytes)).toBe(true);
  });

  it('refuses a link to a release the ledger does not have', async () => {
    const scope = newScope();
    const v1 = await publish(scope, 'v1');
    await publish(scope, 'v2', { previous: { ...v1, manifest: { ...v1.manifest, id: 'v999' } } });
    const v2 = await verified(scope, 'v2');
    expect(await refusal(verifyPreviousLink(emulatorClient(github), v2, options(scope)))).toBe(
      `release shop/production/v2: names v999 as its previous release, but the ledger has no published release v999; the ledger was changed after this release was made`,
    );
  });

  it('refuses a link whose digest is not that of the release before', async () => {
    const scope = newScope();
    const v1 = await publish(scope, 'v1');
    // Signed by a trusted key, but chained to other bytes than v1's published release.json.
    const other = Buffer.concat([v1.manifestBytes, Buffer.from(' ')]);
    await publish(scope, 'v2', { previous: { ...v1, manifestBytes: other } });
    const v2 = await verified(scope, 'v2');
    expect(await refusal(verifyPreviousLink(emulatorClient(github), v2, options(scope)))).toMatch(
      /^release shop\/production\/v2: records v1 as sha256:[0-9a-f]{64}, but v1's release.json is sha256:[0-9a-f]{64}; v1 was changed after v2 was made$/,
    );
  });

  it('refuses a release before whose signature is not trusted', async () => {
    const scope = newScope();
    const stranger = { ...keys, signer: await makeSigner('stranger@example.com') };
    const v1 = await publish(scope, 'v1', { keys: stranger });
    await publish(scope, 'v2', { previous: v1 });
    const v2 = await verified(scope, 'v2');
    expect(await refusal(verifyPreviousLink(emulatorClient(github), v2, options(scope)))).toMatch(
      /^release shop\/production\/v1 is not trusted: release.json.sig: is made by a key that is not in allowed-signers; got ssh-ed25519 /,
    );
  });
});

describe('verifyBundle', () => {
  it('downloads the bundle the manifest names, checked', async () => {
    const scope = newScope();
    await publish(scope, 'v1');
    const release = await verified(scope, 'v1');
    const got = await verifyBundle(emulatorClient(github), release, {
      scope,
      tempDir: scratch,
      log,
    });
    expect(got.size).toBe(bundle.size);
    expect((await readFile(got.file)).equals(await readFile(bundle.file))).toBe(true);
    await rm(got.directory, { recursive: true });
  });

  it('with keep, records in the same pass what the hosts get: every entry indexed, the bytes kept', async () => {
    const scope = newScope();
    await publish(scope, 'v1');
    const release = await verified(scope, 'v1');
    const client = emulatorClient(github);
    const kept = await verifyBundle(client, release, { scope, tempDir: scratch, log, keep: true });
    const server = await readFile(
      path.join(import.meta.dirname, '../../../examples/app/server.mjs'),
    );
    expect(
      [...(kept.payload?.index ?? [])].find((entry) => entry.path === 'server.mjs'),
    ).toMatchObject({
      kind: 'file',
      size: server.length,
      sha256: createHash('sha256').update(server).digest('hex'),
    });
    expect((await stat(path.join(kept.directory, 'content'))).isFile()).toBe(true);
    const checked = await verifyBundle(client, release, { scope, tempDir: scratch, log });
    expect(checked.payload).toBeUndefined();
    await Promise.all([kept, checked].map((got) => rm(got.directory, { recursive: true })));
  });

  it('refuses a replaced, larger bundle without downloading it', async () => {
    const scope = newScope();
    const larger = await pack(
      await appTree({ 'extra.bin': Buffer.alloc(256 * 1024, 7) }),
      'shop',
      SHA,
    );
    await publish(scope, 'v1', { tamper: { bundle: larger } });
    const release = await verified(scope, 'v1');
    const before = github.requests().length;
    const message = await refusal(
      verifyBundle(emulatorClient(github), release, { scope, tempDir: scratch, log }),
    );
    expect(message).toBe(
      `release shop/production/v1: the bundle shop-${SHA}.tar.zst: expected ${bundle.digest} (${bundle.size} bytes), as release.json says, got an asset of ${larger.size} bytes; the asset was replaced or damaged`,
    );
    const downloads = github
      .requests()
      .slice(before)
      .filter((request) => request.operation === 'repos/get-release-asset');
    expect(downloads).toEqual([]);
  });
});

describe('verifyBundle refuses, before any host, a signed bundle a host could not unpack', () => {
  /** A release whose manifest names exactly this (hand-made, zstd) bundle. */
  async function releaseOf(
    tar: Buffer,
  ): Promise<{ scope: LedgerScope; release: VerifiedManifest }> {
    const scope = newScope();
    const file = path.join(scratch, `hostile-${repositories}.tar.zst`);
    const bytes = zstdCompressSync(tar);
    await writeFile(file, bytes);
    const hostile = {
      file,
      size: bytes.length,
      digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
    };
    await publish(scope, 'v1', { bundle: hostile });
    return { scope, release: await verified(scope, 'v1') };
  }

  const refused = async (tar: Buffer, maxExpandedBytes?: number) => {
    const { scope, release } = await releaseOf(tar);
    return refusal(
      verifyBundle(emulatorClient(github), release, {
        scope,
        tempDir: scratch,
        log,
        maxExpandedBytes,
      }),
    );
  };

  it('an mtime that is garbage', async () => {
    const tar = await handMadeTar([{ name: 'ok.txt', content: 'fine\n' }]);
    tar.write('zzzzzzzzzzz\0', 136, 'latin1');
    tar.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += tar[i]!;
    tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
    expect(await refused(tar)).toBe(
      'release shop/production/v1: the bundle: is not a valid tar: the mtime field is not an octal number; got "zzzzzzzzzzz\\u0000"',
    );
  });

  it('a name of 300 bytes, a path of 4,202', async () => {
    expect(await refused(await handMadeTar([{ name: 'n'.repeat(300), content: 'x' }]))).toMatch(
      /^release shop\/production\/v1: entry "n{300}": has a name of 300 bytes; expected at most 255 \(NAME_MAX\)$/,
    );
    const long = `${'d'.repeat(200)}/`.repeat(21).slice(0, 4202);
    expect(await refused(await handMadeTar([{ name: long, content: 'x' }]))).toMatch(
      /: has a path of 4202 bytes; expected at most 4095 \(PATH_MAX\)$/,
    );
  });

  it('leaves nothing behind when it was keeping the bytes for the hosts', async () => {
    const { scope, release } = await releaseOf(
      await handMadeTar([
        { name: 'ok.txt', content: 'fine\n' },
        { name: 'ok.txt', content: 'twice\n' },
      ]),
    );
    const before = await readdir(scratch);
    const message = await refusal(
      verifyBundle(emulatorClient(github), release, { scope, tempDir: scratch, log, keep: true }),
    );
    expect(message).toMatch(/^release shop\/production\/v1: entry "ok\.txt": appears twice/);
    expect(await readdir(scratch)).toEqual(before);
  });

  it('a tar that expands past the cap', async () => {
    const tar = await handMadeTar([{ name: 'zeros', content: '\0'.repeat(4 << 20) }]);
    expect(await refused(tar, 1 << 20)).toMatch(
      /^release shop\/production\/v1: the bundle: expands to more than 1048576 bytes/,
    );
  });
});

describe('receive', () => {
  it('stops reading at the limit, one byte past what the manifest says', async () => {
    let pulled = 0;
    let closed = false;
    function* asset(): Generator<Buffer> {
      try {
        for (let i = 0; i < 1024; i++) {
          pulled += 64 * 1024;
          yield Buffer.alloc(64 * 1024, i);
        }
      } finally {
        closed = true;
      }
    }
    const file = path.join(scratch, 'received');
    const limit = 100_001;
    const received = await receive(Readable.from(asset()), file, limit, async (bytes) => {
      for await (const chunk of bytes) void chunk;
    });
    expect(received.size).toBe(limit);
    expect((await stat(file)).size).toBe(limit);
    expect(pulled).toBeLessThan(limit + 4 * 64 * 1024);
    expect(closed).toBe(true);
  });

  it('reads on to the limit when the check refuses early, for the digest', async () => {
    const file = path.join(scratch, 'refused');
    const received = await receive(
      Readable.from([Buffer.alloc(10), Buffer.alloc(10)]),
      file,
      15,
      () => Promise.reject(new ConfigurationError({ problem: 'no' })),
    );
    expect(received.refusal?.message).toBe('no');
    expect(received.size).toBe(15);
  });
});
