import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { ROOT } from '../helpers/action.js';
import { payloadOf } from '../helpers/payload.js';
import type { HostRelease } from '../../shared/host/transfer.js';

export const APP_DIR = path.join(ROOT, 'examples/app');

export interface BundleFile {
  name: string;
  content?: Buffer | string;
  mode?: number;
  type?: 'file' | 'directory' | 'symlink';
  linkname?: string;
}

/** A tar bundle as the build makes it: sorted entries, fixed mtime, uid/gid 0. */
export async function tarBuffer(files: readonly BundleFile[]): Promise<Buffer> {
  const archive = pack();
  const mtime = new Date('2024-01-01T00:00:00Z');
  for (const file of [...files].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const type = file.type ?? 'file';
    if (type === 'file') {
      const content = Buffer.from(file.content ?? '');
      archive.entry(
        { name: file.name, mode: file.mode ?? 0o644, mtime, uid: 0, gid: 0, size: content.length },
        content,
      );
    } else if (type === 'directory') {
      archive.entry({ name: file.name, type, mode: 0o755, mtime, uid: 0, gid: 0 });
    } else {
      archive.entry({
        name: file.name,
        type,
        linkname: file.linkname ?? '',
        mode: 0o777,
        mtime,
        uid: 0,
        gid: 0,
      });
    }
  }
  archive.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The files of examples/app, as a bundle of it would hold them; `extra` adds or replaces files. */
export async function appFiles(extra: readonly BundleFile[] = []): Promise<BundleFile[]> {
  const files: BundleFile[] = [];
  async function walk(dir: string, prefix: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const name = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        files.push({ name, type: 'directory' });
        await walk(full, name);
      } else {
        const info = await stat(full);
        files.push({
          name,
          content: await readFile(full),
          mode: info.mode & 0o111 ? 0o755 : 0o644,
        });
      }
    }
  }
  await walk(APP_DIR, '');
  // A bundle never holds a path twice (the run stage refuses one that does).
  const replaced = new Set(extra.map((file) => file.name));
  return [...files.filter((file) => !replaced.has(file.name)), ...extra];
}

export function digestOf(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A release as the run stage hands it to the engine; the manifest is a stand-in with the fields the host reads. */
export async function releaseOf(
  id: string,
  bundle: Buffer | (() => Readable),
  env: Record<string, string>,
  digest = Buffer.isBuffer(bundle) ? digestOf(bundle) : 'sha256:unknown',
): Promise<HostRelease> {
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 1, id, build: { digest }, config: { vars: env } }),
  );
  return {
    id,
    digest,
    manifestBytes: manifest,
    signatureBytes: Buffer.from(
      `-----BEGIN SSH SIGNATURE-----\n${id}\n-----END SSH SIGNATURE-----\n`,
    ),
    env,
    payload: await payloadOf(Buffer.isBuffer(bundle) ? Readable.from([bundle]) : bundle()),
  };
}

/**
 * A bundle of `bytes` of filler data in files of up to 8 MiB, generated as it is read, so a 1 GB
 * bundle never sits in memory.
 */
export function sizedBundle(bytes: number, seed = 'bundle'): () => Readable {
  return () => {
    const archive = pack();
    const fileSize = 8 * 1024 * 1024;
    const chunk = 1024 * 1024;
    const fill = async () => {
      let left = bytes;
      for (let index = 0; left > 0; index++) {
        const size = Math.min(fileSize, left);
        let finished!: (error?: unknown) => void;
        const done = new Promise<void>((resolve, reject) => {
          finished = (error) =>
            error
              ? reject(error instanceof Error ? error : new Error('tar entry failed'))
              : resolve();
        });
        const entry = archive.entry(
          {
            name: `data/${String(index).padStart(5, '0')}.bin`,
            size,
            mode: 0o644,
            mtime: new Date(0),
          },
          finished,
        );
        for (let written = 0, counter = 0; written < size; written += chunk, counter++) {
          const piece = createHash('sha512').update(`${seed}:${index}:${counter}`).digest();
          const block = Buffer.alloc(Math.min(chunk, size - written));
          for (let at = 0; at < block.length; at += piece.length) piece.copy(block, at);
          if (!entry.write(block))
            await new Promise<void>((resolve) => entry.once('drain', () => resolve()));
        }
        entry.end(undefined);
        await done;
        left -= size;
      }
      archive.finalize();
    };
    fill().catch((error: unknown) =>
      archive.destroy(error instanceof Error ? error : new Error(String(error))),
    );
    return Readable.from(archive);
  };
}
