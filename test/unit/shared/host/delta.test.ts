import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { buffer } from 'node:stream/consumers';
import {
  chmod,
  chown,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  stat,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { zstdCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { releaseTar } from '../../../../shared/bundle/release-tar.js';
import { fullPlan } from '../../../../shared/host/delta-plan.js';
import { uploadStream } from '../../../../shared/host/delta-transfer.js';
import { checkBaseScript } from '../../../../shared/host/scripts/delta.js';
import type { HostTools } from '../../../../shared/host/scripts/tools.js';
import { receiveScript } from '../../../../shared/host/scripts/release.js';
import { EXIT } from '../../../../shared/host/scripts/root.js';
import { payloadOf } from '../../../helpers/payload.js';
import { tempDir, type TreeSpec } from '../bundle-helpers.js';
import {
  app,
  bundleOf,
  expectRelease,
  indexOnHost,
  parseBaseCheck,
  sh,
  transfer,
  serializeIndex,
} from './delta-helpers.js';

async function hostWith(first: TreeSpec) {
  const root = path.join(await tempDir(), 'deploy');
  const v1 = await bundleOf(first);
  const sent = await transfer({ root, id: 'v1', bundle: v1 });
  return { root, v1, sent };
}

describe('a release built from the one before', () => {
  it('sends only what changed and links the rest, identical to a full unpack', async () => {
    const { root, sent: first } = await hostWith(app);
    expect(first.linked).toEqual([]);
    const v2 = await bundleOf({ ...app, 'app.js': 'console.log("v2")\n' });
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect(second.linked).toEqual(['bin/start', 'docs/readme', 'lib/big.bin', 'lib/util.js']);
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
    expect((await stat(path.join(root, 'releases/v2/app.js'))).nlink).toBe(1);
    // The 256 KiB file did not travel again: the second stream is a fraction of the first.
    expect(second.wireBytes).toBeLessThan(first.wireBytes / 4);
  });

  it('writes the release files in the same stream: .env 0600, the manifest, the index', async () => {
    const { root } = await hostWith(app);
    const release = path.join(root, 'releases/v1');
    expect((await stat(path.join(release, '.env'))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(release, '.release/release.json'), 'utf8')).toBe('{"id":"v1"}');
    expect(await readdirSorted(path.join(release, '.release'))).toEqual([
      'index.zst',
      'release.json',
      'release.json.sig',
    ]);
  });

  it('reports the progress of a long upload in the log', async () => {
    const payload = await payloadOf(
      await bundleOf({ ...app, 'lib/more.bin': randomBytes(4 * 1024 * 1024) }),
      'zstd',
    );
    let now = 0;
    const lines: string[] = [];
    // A clock that runs a second per look: the upload seems to take minutes.
    const upload = uploadStream({
      id: 'v1',
      payload,
      planned: { plan: fullPlan(payload.index), base: undefined },
      tools: { decompressor: 'zstd', hash: undefined, stamps: false },
      files: [],
      progress: {
        label: 'host test: v1',
        report: (line: string) => lines.push(line),
        now: () => (now += 1000),
      },
    });
    await buffer(upload.stdin);
    upload.finish();

    expect(lines.length).toBeGreaterThan(1);
    expect(lines.at(-1)).toMatch(/^host test: v1: 4\.\d MiB of 4\.\d MiB \(100%\), 4\.\d MiB sent/);
  });

  it('never carries a file edited on the host: the bundle content travels instead', async () => {
    const { root } = await hostWith(app);
    const edited = path.join(root, 'releases/v1/lib/util.js');
    await writeFile(edited, 'export const answer = 41;\n');
    const v2 = await bundleOf({ ...app, 'app.js': 'console.log("v2")\n' });
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect(second.linked).not.toContain('lib/util.js');
    expect(await readFile(path.join(root, 'releases/v2/lib/util.js'), 'utf8')).toBe(
      'export const answer = 42;\n',
    );
    expect(await readFile(edited, 'utf8')).toBe('export const answer = 41;\n');
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
  });

  it('never carries a file whose mode was changed on the host, or one that was removed', async () => {
    const { root } = await hostWith(app);
    await chmod(path.join(root, 'releases/v1/docs/readme'), 0o755);
    await chmod(path.join(root, 'releases/v1/bin/start'), 0o700);
    sh(`rm '${path.join(root, 'releases/v1/lib/big.bin')}'`);
    const v2 = await bundleOf(app);
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect(second.linked).toEqual(['app.js', 'lib/util.js']);
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
  });

  it('sends a file whose base line is not written the canonical way', async () => {
    const { root } = await hostWith(app);
    const baseIndex = path.join(root, 'releases/v1/.release/index.zst');
    const text = await indexOnHost(root, 'v1');
    const edited = text.replace(/^(lib\/util\.js\tf\t)644\t/m, '$10644\t');
    expect(edited).not.toBe(text);
    await writeFile(baseIndex, zstdCompressSync(edited));
    const v2 = await bundleOf({ ...app, 'app.js': 'v2\n' });
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect(second.linked).not.toContain('lib/util.js');
    expect(second.linked.length).toBeGreaterThan(0);
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
  });

  it('rewrites the new index whole when the one merged on the host differs', async () => {
    const { root } = await hostWith(app);
    const baseIndex = path.join(root, 'releases/v1/.release/index.zst');
    const text = await indexOnHost(root, 'v1');
    // A second line for the same path, after the right one: the host's merge keeps the last.
    const edited = text.replace(/^(lib\/util\.js\tf\t)644(\t.*)$/m, '$&\n$10644$2');
    expect(edited).not.toBe(text);
    await writeFile(baseIndex, zstdCompressSync(edited));
    const v2 = await bundleOf({ ...app, 'app.js': 'v2\n' });
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect(second.linked).toContain('lib/util.js');
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
  });

  it('the check reports exactly the files that are not as shipped, with stamps or without', async () => {
    const { root } = await hostWith(app);
    await writeFile(path.join(root, 'releases/v1/app.js'), 'changed on the host\n');
    const nonce = 'f00d';
    for (const stamps of [false, true]) {
      const tools = { decompressor: undefined, hash: 'sha256sum' as const, stamps };
      const report = parseBaseCheck(sh(checkBaseScript(root, 'v1', tools, nonce)).stdout, nonce);
      expect(report?.unverified).toEqual(new Set(['app.js']));
      expect(report?.index).toBe(await indexOnHost(root, 'v1'));
    }
  });

  it('leaves out deleted files and follows mode, symlink and empty-directory changes', async () => {
    const { root } = await hostWith(app);
    const next: TreeSpec = {
      'app.js': 'console.log("v1")\n',
      'bin/start': { content: '#!/bin/sh\nexec node app.js\n', mode: 0o644 },
      'lib/util.js': { content: 'export const answer = 42;\n', mode: 0o755 },
      'docs/readme': 'read me\n',
      'current-docs': { link: 'lib' },
      'docs/latest': { link: '../lib/util.js' },
      'more/empty/': { dir: 0o755 },
    };
    const v2 = await bundleOf(next);
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect(second.linked).toEqual(['app.js', 'docs/readme']);
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
    const release = path.join(root, 'releases/v2');
    await expect(lstat(path.join(release, 'lib/big.bin'))).rejects.toThrow(/ENOENT/);
    await expect(lstat(path.join(release, 'empty'))).rejects.toThrow(/ENOENT/);
    expect(await readlink(path.join(release, 'current-docs'))).toBe('lib');
    expect((await stat(path.join(release, 'bin/start'))).mode & 0o777).toBe(0o644);
    expect((await stat(path.join(release, 'lib/util.js'))).mode & 0o777).toBe(0o755);
  });

  it('sends files whose names the host cannot list plainly, and still builds the same tree', async () => {
    const odd = {
      ...app,
      'odd/new\nline': 'a name with a newline\n',
      'odd/back\\slash': 'a name with a backslash\n',
      "odd/it's here": 'quotes and spaces\n',
      'odd/naïve 中': 'unicode\n',
    };
    const { root } = await hostWith(odd);
    const v2 = await bundleOf({ ...odd, 'app.js': 'v2\n' });
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect(second.linked).not.toContain('odd/new\nline');
    expect(second.linked).not.toContain('odd/back\\slash');
    expect(second.linked).toContain("odd/it's here");
    expect(second.linked).toContain('odd/naïve 中');
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
  });

  it("leaves out the bundle's own .env and .release: the release writes its own", async () => {
    const { root } = await hostWith({
      ...app,
      '.env': 'FROM_THE_BUNDLE=1\n',
      '.release/release.json': '{"forged":true}',
    });
    const release = path.join(root, 'releases/v1');
    expect(await readFile(path.join(release, '.env'), 'utf8')).toBe('');
    expect(await readFile(path.join(release, '.release/release.json'), 'utf8')).toBe('{"id":"v1"}');
  });
});

describe('names only pax headers can hold', () => {
  it('links files whose paths and link targets are longer than ustar allows', async () => {
    const long = `deep/${'d'.repeat(120)}/${'f'.repeat(150)}.js`;
    const spec: TreeSpec = {
      ...app,
      [long]: 'long\n',
      [`${long}.link`]: { link: 'f'.repeat(150) + '.js' },
    };
    const { root } = await hostWith(spec);
    const v2 = await bundleOf({ ...spec, 'app.js': 'v2\n' });
    const second = await transfer({ root, id: 'v2', bundle: v2, base: 'v1' });

    expect(second.linked).toContain(long);
    await expectRelease(root, 'v2', v2, serializeIndex(second.next));
  });
});

/** The stream a full transfer sends, and the receive script for it. */
async function fullUpload(bundle: string, tools: HostTools) {
  const payload = await payloadOf(bundle, 'zstd');
  const upload = uploadStream({
    id: 'v1',
    payload,
    planned: { plan: fullPlan(payload.index), base: undefined },
    tools,
    files: [],
  });
  return { payload, stdin: upload.stdin, nonce: upload.nonce };
}

function receive(root: string, tools: HostTools, nonce = 'n0nce', relative = true) {
  return receiveScript(root, {
    id: 'v1',
    sharedPaths: [],
    replace: false,
    stamps: tools.stamps,
    decompressor: tools.decompressor,
    relative,
    nonce,
    index: { base: undefined, how: 'keep', header: 'brr-index 1' },
    indexDigest: undefined,
  });
}

const PLAIN: HostTools = { decompressor: undefined, hash: undefined, stamps: false };

describe('the receiving end', () => {
  it("unpacks the bundle's modes whatever the deploy user's umask", async () => {
    const dir = await tempDir();
    await chmod(dir, 0o755);
    const root = path.join(dir, 'deploy');
    await mkdir(root);
    const upload = await fullUpload(await bundleOf(app), PLAIN);
    const stream = await buffer(upload.stdin);
    // A deploy user of its own (tar run by root keeps the archive's modes anyway), umask 077.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) await chown(root, 65534, 65534);
    const command = ['/bin/sh', '-c', `umask 077; ${receive(root, PLAIN, upload.nonce)}`];
    const drop = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    const [program = '', ...args] = asRoot ? [...drop, ...command] : command;
    const result = spawnSync(program, args, { input: stream });
    expect(result.status, result.stderr.toString()).toBe(0);
    const release = path.join(root, 'releases/v1');
    expect((await stat(path.join(release, 'app.js'))).mode & 0o777).toBe(0o644);
    expect((await stat(path.join(release, 'bin/start'))).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(release, 'lib'))).mode & 0o777).toBe(0o755);
  });

  it('fails on a damaged compressed stream, and on one cut short even at an entry end', async () => {
    const root = path.join(await tempDir(), 'deploy');
    const zstd = { ...PLAIN, decompressor: 'zstd' as const };
    const garbage = sh(receive(root, zstd), Buffer.from('not zstd at all'));
    expect(garbage.code).not.toBe(0);
    expect(garbage.stderr).toMatch(/damaged|zstd/);

    // Every entry of the bundle, then the end of the archive, but not the release's own files.
    const { payload, nonce } = await fullUpload(await bundleOf(app), PLAIN);
    const chunks: Buffer[] = [];
    // releaseTar writes its buffer again for each piece: what is kept is copied.
    for await (const chunk of releaseTar(payload.content, { into: '' }))
      chunks.push(Buffer.from(chunk));
    const cut = sh(receive(root, PLAIN, nonce), Buffer.concat([...chunks, Buffer.alloc(1024)]));
    expect(cut.code).toBe(EXIT.cutShort);
    expect(cut.stderr).toMatch(/cut short/);
    await expect(lstat(path.join(root, 'releases/v1'))).rejects.toThrow(/ENOENT/);
  });

  it('extracts nothing outside the new directory from a delta, whose names are under it', async () => {
    const root = path.join(await tempDir(), 'deploy');
    const plain = await bundleOf(app);
    const unprefixed = sh(`zstd -q -d -c '${plain}'`).stdout;
    const stray = sh(receive(root, PLAIN, 'n0nce', false), unprefixed);
    expect(stray.code).not.toBe(0);
    expect(sh(`ls -A '${root}/releases/v1.tmp'`).stdout.toString()).toBe('');
  });

  it('gets a plain stream in large pieces, not a write per tar header', async () => {
    const many: TreeSpec = {};
    for (let i = 0; i < 2000; i++) many[`small/${i}.txt`] = `file ${i}\n`;
    const sizes: number[] = [];
    for await (const chunk of (await fullUpload(await bundleOf(many), PLAIN)).stdin) {
      sizes.push((chunk as Buffer).length);
    }
    expect(sizes.length).toBeGreaterThan(2);
    // All but the release's own files at the end come in writes of 256 KiB or more.
    expect(sizes.slice(0, -2).every((size) => size >= 256 * 1024)).toBe(true);
  });

  it('gets a stream that fails before its end when a file changed on the runner since it was verified', async () => {
    const payload = await payloadOf(await bundleOf(app), 'zstd');
    const entry = [...payload.content.entries].find((e) => e.path === 'lib/util.js');
    const bytes = await readFile(payload.content.file);
    bytes.write('X', entry?.offset ?? 0);
    await writeFile(payload.content.file, bytes);
    const { stdin } = uploadStream({
      id: 'v1',
      payload,
      planned: { plan: fullPlan(payload.index), base: undefined },
      tools: PLAIN,
      files: [],
    });
    const chunks: Buffer[] = [];
    await expect(async () => {
      for await (const chunk of stdin) chunks.push(chunk as Buffer);
    }).rejects.toThrow(/^bundle: the files kept on the runner changed since they were verified/);
    // The release's own files, the completion marker last, never went: the host fails it.
    expect(Buffer.concat(chunks).includes(Buffer.from('v1.tmp/.release/complete'))).toBe(false);
  });
});

async function readdirSorted(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}
