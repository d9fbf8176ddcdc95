import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, symlink } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { expect } from 'vitest';
import { packBundle } from '../../../../shared/bundle.js';
import {
  INDEX_HEADER,
  indexLine,
  sortIndex,
  type FileIndex,
} from '../../../../shared/bundle/file-index.js';
import { localTransport } from '../../../../shared/host/local.js';
import { BaseCheckReader } from '../../../../shared/host/base-report.js';
import type { HostTools } from '../../../../shared/host/scripts/tools.js';
import { HostSession } from '../../../../shared/host/session.js';
import { transferRelease } from '../../../../shared/host/transfer.js';
import { silentLog } from '../../../../shared/log.js';
import { payloadOf } from '../../../helpers/payload.js';
import { tempDir, writeTree, type TreeSpec } from '../bundle-helpers.js';

/**
 * checkBaseScript's output, read as a deploy reads it: the base's index as text, and the files
 * not as shipped; undefined when the output is not a whole report.
 */
export function parseBaseCheck(
  output: Buffer,
  nonce: string,
): { index: string; unverified: Set<string> } | undefined {
  const lines: string[] = [];
  const reader = new BaseCheckReader(nonce, { index: (line) => lines.push(`${line}\n`) });
  reader.push(output.toString('utf8'));
  const unverified = reader.end();
  return unverified && { index: lines.join(''), unverified };
}

/** A small app with each kind of entry: files of both modes, a symlink, an empty directory. */
export const app: TreeSpec = {
  'app.js': 'console.log("v1")\n',
  'bin/start': { content: '#!/bin/sh\nexec node app.js\n', mode: 0o755 },
  'lib/util.js': 'export const answer = 42;\n',
  'lib/big.bin': randomBytes(256 * 1024),
  'docs/readme': 'read me\n',
  'current-docs': { link: 'docs' },
  'empty/': { dir: 0o755 },
};

/** Runs a script as a transport would: /bin/sh -c, stdin as data. */
export function sh(script: string, stdin?: Buffer | string, env?: NodeJS.ProcessEnv) {
  const result = spawnSync('/bin/sh', ['-c', script], {
    input: stdin ?? '',
    env: env ?? process.env,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr.toString() };
}

/** A directory of links to every tool on the usual PATH except the ones named: a leaner host. */
export async function pathWithout(tools: string[]): Promise<string> {
  const dir = path.join(await tempDir(), 'bin');
  await mkdir(dir);
  const seen = new Set(tools);
  for (const source of ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    const names = await readdir(source).catch(() => [] as string[]);
    for (const name of names) {
      if (seen.has(name)) continue;
      seen.add(name);
      await symlink(path.join(source, name), path.join(dir, name));
    }
  }
  return dir;
}

/** Packs a tree spec as build-action packs a bundle (zstd). */
export async function bundleOf(spec: TreeSpec): Promise<string> {
  const dir = await tempDir();
  await writeTree(path.join(dir, 'tree'), spec);
  const file = path.join(dir, 'bundle.tar.zst');
  await packBundle(
    { root: path.join(dir, 'tree'), patterns: ['.'], compression: 'zstd', mtime: 1_700_000_000 },
    file,
  );
  return file;
}

export interface Transferred {
  tools: HostTools;
  /** Files of the new release that are hard links to the base's file of the same path. */
  linked: string[];
  /** Entries of the new release's index that are not linked: sent. */
  sent: number;
  next: FileIndex;
  /** Bytes the host received on stdin, compressed as they went on the wire. */
  wireBytes: number;
}

/** Paths of files in `releases/<id>` that are the same inode as in `releases/<base>`. */
export async function linkedFrom(root: string, base: string, id: string): Promise<string[]> {
  const linked: string[] = [];
  const walk = async (relative: string) => {
    for (const entry of await readdir(path.join(root, 'releases', id, relative), {
      withFileTypes: true,
    })) {
      const name = relative ? `${relative}/${entry.name}` : entry.name;
      if (name === '.release') continue;
      if (entry.isDirectory()) await walk(name);
      if (!entry.isFile()) continue;
      const [mine, theirs] = await Promise.all([
        lstat(path.join(root, 'releases', id, name)),
        lstat(path.join(root, 'releases', base, name)).catch(() => undefined),
      ]);
      if (theirs?.ino === mine.ino) linked.push(name);
    }
  };
  await walk('');
  return linked.sort();
}

/**
 * Puts a bundle on a "host" (a directory and /bin/sh, reached by the local transport) as a
 * deploy does: inspect it for its tools, then the transfer (the base checked against its index,
 * what it lacks sent, its index and stamps written, renamed into place).
 */
export async function transfer(options: {
  root: string;
  id: string;
  bundle: string;
  base?: string;
  env?: NodeJS.ProcessEnv;
  /** Replace a release of the same ID already there. */
  replace?: boolean;
}): Promise<Transferred> {
  const { root, id } = options;
  const transport = localTransport(options.env ? { env: options.env } : {});
  const session = new HostSession(transport, { root, log: silentLog });
  const { tools } = await session.inspect();
  const payload = await payloadOf(options.bundle, 'zstd');
  const manifest = Buffer.from(JSON.stringify({ id }));
  await transferRelease(session, {
    release: {
      id,
      digest: 'sha256:x',
      manifestBytes: manifest,
      signatureBytes: manifest,
      env: {},
      payload,
    },
    envFile: '',
    sharedPaths: [],
    replace: options.replace ?? false,
    tools,
    base: options.base,
  });
  const linked = options.base ? await linkedFrom(root, options.base, id) : [];
  return {
    tools,
    linked,
    sent: payload.index.length - linked.length,
    next: payload.index,
    wireBytes: transport.bytesSent,
  };
}

export interface TreeEntry {
  path: string;
  kind: 'file' | 'directory' | 'symlink';
  mode?: number;
  sha256?: string;
  link?: string;
}

/** Everything a release holds that a user could tell apart: kinds, modes, bytes, link targets. */
export async function treeOf(root: string, skip: string[] = []): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const walk = async (directory: string) => {
    for (const name of (await readdir(path.join(root, directory))).sort()) {
      const relative = directory ? `${directory}/${name}` : name;
      if (skip.includes(relative)) continue;
      const full = path.join(root, relative);
      const stats = await lstat(full);
      if (stats.isSymbolicLink()) {
        out.push({ path: relative, kind: 'symlink', link: await readlink(full) });
      } else if (stats.isDirectory()) {
        out.push({ path: relative, kind: 'directory', mode: stats.mode & 0o7777 });
        await walk(relative);
      } else {
        const sha256 = createHash('sha256')
          .update(await readFile(full))
          .digest('hex');
        out.push({ path: relative, kind: 'file', mode: stats.mode & 0o7777, sha256 });
      }
    }
  };
  await walk('');
  return out;
}

/** The reference: the bundle unpacked by the host's tar in one go, with nothing of ours. */
export async function plainUnpack(bundle: string): Promise<string> {
  const dir = path.join(await tempDir(), 'reference');
  await mkdir(dir);
  const script = 'zstd -q -d -c "$0" | tar -xof - -C "$1"';
  const result = spawnSync('/bin/sh', ['-c', script, bundle, dir]);
  if (result.status !== 0) throw new Error(result.stderr.toString());
  return dir;
}

/** A release's index as text, kept compressed with the host's zstd or gzip, or plain. */
export async function indexOnHost(root: string, id: string): Promise<string> {
  const file = (name: string) => readFile(path.join(root, 'releases', id, '.release', name));
  const read = [
    async () => zstdDecompressSync(await file('index.zst')),
    async () => gunzipSync(await file('index.gz')),
    async () => file('index'),
  ];
  for (const attempt of read) {
    const text = await attempt().catch(() => undefined);
    if (text !== undefined) return text.toString('utf8');
  }
  throw new Error(`releases/${id} has no index`);
}

/** The release as the bundle would unpack, plus the index it carries. */
export async function expectRelease(root: string, id: string, bundle: string, index: string) {
  const release = path.join(root, 'releases', id);
  expect(await treeOf(release, ['.release', '.env'])).toEqual(
    await treeOf(await plainUnpack(bundle)),
  );
  expect(await indexOnHost(root, id)).toBe(index);
}

/**
 * An index's text as the host keeps it: the header line, then one line per entry sorted by the
 * line's bytes (as `LC_ALL=C sort` sorts them). The same entries always give the same text.
 */
export function serializeIndex(index: FileIndex): string {
  return `${INDEX_HEADER}\n${sortIndex([...index])
    .map((entry) => `${indexLine(entry)}\n`)
    .join('')}`;
}
