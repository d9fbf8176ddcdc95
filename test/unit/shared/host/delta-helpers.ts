import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { lstat, mkdir, readdir, readFile, readlink, rename, symlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { packBundle } from '../../../../shared/bundle.js';
import { indexBundle, type FileIndex } from '../../../../shared/bundle/file-index.js';
import type { DeltaPlan } from '../../../../shared/host/delta-plan.js';
import {
  findHostTools,
  receiveRelease,
  writeReleaseIndex,
  type ReceiveOptions,
  type ScriptHost,
} from '../../../../shared/host/delta-transfer.js';
import type { HostTools } from '../../../../shared/host/scripts/delta.js';
import { tempDir, writeTree, type TreeSpec } from '../bundle-helpers.js';

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
  plan: DeltaPlan;
  next: FileIndex;
  /** Bytes the host received on stdin, compressed as they would go on the wire. */
  wireBytes: number;
}

/** A "host" that is a directory and /bin/sh, counting what its scripts receive on stdin. */
function localHost(env: NodeJS.ProcessEnv | undefined): ScriptHost & { received: number } {
  const host = {
    received: 0,
    async exec(script: string, options: { stdin?: Readable | Buffer | string } = {}) {
      const input = options.stdin;
      const bytes =
        input === undefined
          ? Buffer.alloc(0)
          : typeof input === 'string' || Buffer.isBuffer(input)
            ? Buffer.from(input)
            : await buffer(input);
      host.received += bytes.length;
      return sh(script, bytes, env);
    },
    async must(what: string, script: string, options: { stdin?: Readable | Buffer | string } = {}) {
      const result = await host.exec(script, options);
      if (result.code !== 0) throw new Error(`${what}: exit ${result.code}: ${result.stderr}`);
      return result;
    },
  };
  return host;
}

/**
 * Puts a bundle on a "host" (a directory and /bin/sh) as a deploy does: find the host's tools,
 * receive the release from the base (checked against its index), write the index, rename.
 */
export async function transfer(options: {
  root: string;
  id: string;
  bundle: string;
  base?: string;
  env?: NodeJS.ProcessEnv;
  progress?: ReceiveOptions['progress'];
}): Promise<Transferred> {
  const { root, id } = options;
  const host = localHost(options.env);
  const tools = await findHostTools(host);
  const next = await indexBundle(options.bundle, { compression: 'zstd' });
  const common = { root, id, next, tools };
  const received = await receiveRelease(host, {
    ...common,
    bundle: options.bundle,
    compression: 'zstd',
    base: options.base,
    ...(options.progress ? { progress: options.progress } : {}),
  });
  await writeReleaseIndex(host, { ...common, ...received });
  await rename(path.join(root, 'releases', `${id}.tmp`), path.join(root, 'releases', id));
  return { tools, plan: received.plan, next, wireBytes: host.received };
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

export function indexOnHost(root: string, id: string): Promise<string> {
  return readFile(path.join(root, 'releases', id, '.release', 'index'), 'utf8');
}
