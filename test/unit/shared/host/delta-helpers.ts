import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, rename, symlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { packBundle } from '../../../../shared/bundle.js';
import { compressStream } from '../../../../shared/bundle/compress-stream.js';
import { releaseStream } from '../../../../shared/bundle/delta-tar.js';
import {
  indexBundle,
  INDEX_HEADER,
  parseIndex,
  serializeIndex,
  type FileIndex,
} from '../../../../shared/bundle/file-index.js';
import {
  decompressOutput,
  deltaPlan,
  fullPlan,
  type DeltaPlan,
} from '../../../../shared/host/delta-plan.js';
import {
  checkBaseScript,
  hostToolsScript,
  indexUpdateInput,
  parseBaseCheck,
  parseHostTools,
  parseIndexDigest,
  receiveDeltaScript,
  writeIndexScript,
  type HostTools,
} from '../../../../shared/host/scripts/delta.js';
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

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export interface Transferred {
  tools: HostTools;
  plan: DeltaPlan;
  next: FileIndex;
  /** Bytes the host received on stdin, compressed as they would go on the wire. */
  wireBytes: number;
}

/**
 * Puts a bundle on a "host" (a directory and /bin/sh) as the runner's transfer would: find the
 * host's tools, check the base release against its index, send the delta, write the index,
 * rename. Throws with the script's stderr when a step fails.
 */
export async function transfer(options: {
  root: string;
  id: string;
  bundle: string;
  base?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<Transferred> {
  const { root, id, base, env } = options;
  const run = (what: string, script: string, stdin?: Buffer) => {
    const result = sh(script, stdin, env);
    if (result.code !== 0) throw new Error(`${what}: exit ${result.code}: ${result.stderr}`);
    return result;
  };
  const tools = parseHostTools(run('tools', hostToolsScript()).stdout);
  const next = await indexBundle(options.bundle, { compression: 'zstd' });
  let plan = fullPlan(next);
  const nonce = randomBytes(16).toString('hex');
  if (base !== undefined && tools.hash !== undefined) {
    const hash = tools.hash;
    const checked = run('check', checkBaseScript(root, base, { ...tools, hash }, nonce));
    const report = parseBaseCheck(
      await decompressOutput(checked.stdout, tools.decompressor),
      nonce,
    );
    if (report === undefined) throw new Error('the check report was cut short');
    plan = deltaPlan(parseIndex(report.index), report.unverified, next);
  }
  const wire = tools.decompressor;
  const stream = releaseStream(options.bundle, {
    into: `${id}.tmp`,
    ...(plan.carry.size > 0 ? { base, carry: plan.carry } : {}),
    compression: 'zstd',
    ...(wire ? { wire } : {}),
  });
  const tar = await collect(stream);
  run('receive', receiveDeltaScript(root, id, wire), tar);
  const input = Buffer.from(indexUpdateInput(plan.update, nonce));
  const update = wire ? await collect(compressStream(Readable.from([input]), wire)) : input;
  const written = run(
    'index',
    writeIndexScript({
      root,
      id,
      base: plan.carry.size > 0 ? base : undefined,
      how: plan.update.how,
      header: INDEX_HEADER,
      nonce,
      tools,
    }),
    update,
  );
  const expected = createHash('sha256').update(serializeIndex(next)).digest('hex');
  const digest = parseIndexDigest(written.stdout);
  if (tools.hash !== undefined && digest !== expected) {
    throw new Error(`the host's index is ${digest}, expected ${expected}`);
  }
  await rename(path.join(root, 'releases', `${id}.tmp`), path.join(root, 'releases', id));
  return { tools, plan, next, wireBytes: tar.length + update.length };
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
