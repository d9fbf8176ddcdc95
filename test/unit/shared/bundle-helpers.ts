import { createHash } from 'node:crypto';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pack as tarPack, type Header } from 'tar-stream';
import { afterEach } from 'vitest';

const made: string[] = [];

afterEach(async () => {
  for (const directory of made.splice(0)) await rm(directory, { recursive: true, force: true });
});

/** A fresh directory, removed after the test. */
export async function tempDir(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'bundle-test-'));
  made.push(directory);
  return directory;
}

export type TreeSpec = Record<
  string,
  string | Buffer | { content: string | Buffer; mode: number } | { link: string } | { dir: number }
>;

/** Writes a tree: a string or Buffer is a file (0644), `{link}` a symlink, `{dir}` a directory. */
export async function writeTree(root: string, spec: TreeSpec): Promise<void> {
  for (const [path, value] of Object.entries(spec)) {
    const target = join(root, path);
    await mkdir(dirname(target), { recursive: true });
    if (typeof value === 'string' || Buffer.isBuffer(value)) {
      await writeFile(target, value);
      await chmod(target, 0o644);
    } else if ('link' in value) {
      await symlink(value.link, target);
    } else if ('dir' in value) {
      await mkdir(target, { recursive: true });
      await chmod(target, value.dir);
    } else {
      await writeFile(target, value.content);
      await chmod(target, value.mode);
    }
  }
}

export interface SnapshotEntry {
  path: string;
  kind: 'file' | 'directory' | 'symlink';
  executable?: boolean;
  sha256?: string;
  link?: string;
}

/** What a user sees of a tree: paths, kinds, the exec bit of files, contents and link targets. */
export async function snapshot(root: string): Promise<SnapshotEntry[]> {
  const out: SnapshotEntry[] = [];
  const walk = async (directory: string) => {
    for (const name of (await readdir(join(root, directory))).sort()) {
      const path = directory ? `${directory}/${name}` : name;
      const stats = await lstat(join(root, path));
      if (stats.isSymbolicLink()) {
        out.push({ path, kind: 'symlink', link: await readlink(join(root, path)) });
      } else if (stats.isDirectory()) {
        out.push({ path, kind: 'directory' });
        await walk(path);
      } else {
        const sha256 = createHash('sha256')
          .update(await readFile(join(root, path)))
          .digest('hex');
        out.push({ path, kind: 'file', executable: (stats.mode & 0o111) !== 0, sha256 });
      }
    }
  };
  await walk('');
  return out;
}

export type TarEntrySpec = Partial<Header> & Pick<Header, 'name'> & { content?: string };

/** A plain tar written by hand with tar-stream, for archives GNU tar would not make. */
export async function handMadeTar(entries: TarEntrySpec[]): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const { content, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error | null) => (error ? reject(error) : resolve());
      if (content !== undefined) pack.entry({ mode: 0o644, ...header }, content, done);
      else pack.entry({ mode: 0o755, ...header }, done);
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}
