import type { Readable } from 'node:stream';
import {
  installScript,
  prepareMetadataScript,
  receiveScript,
  writeReleaseFileScript,
  type ReleaseFile,
} from './scripts/release.js';
import { cleanScript } from './scripts/root.js';
import type { HostSession } from './session.js';

/** A release as one host receives it: verified before any host is touched. */
export interface HostRelease {
  id: string;
  /** The bundle's digest, `sha256:<hex>`, recorded in the history. */
  digest: string;
  /** release.json, byte for byte as signed. */
  manifestBytes: Buffer;
  signatureBytes: Buffer;
  /** The release's config, vars and decrypted secrets, written to `.env` by shared/dotenv.ts. */
  env: Readonly<Record<string, string>>;
  /** The bundle as a plain tar stream, already checked; opened only when the host lacks it. */
  openBundle: () => Readable | Promise<Readable>;
}

export interface TransferOptions {
  release: HostRelease;
  /** The `.env` as shared/dotenv.ts renders it. */
  envFile: string;
  /** Directories under `shared/` linked into the release. */
  sharedPaths: readonly string[];
  /** Replace a release directory of the same ID that holds another release.json. */
  replace: boolean;
}

/**
 * Puts a release directory on the host: the bundle unpacked into `releases/<id>.tmp`, its `.env`
 * and signed manifest written from stdin, shared paths linked, then renamed into place, so a
 * release directory that exists is complete. A failure leaves nothing half-made behind.
 */
export async function transferRelease(
  session: HostSession,
  options: TransferOptions,
): Promise<void> {
  const { release } = options;
  const { root } = session;
  const id = release.id;
  session.phase('upload');
  const bundle = await release.openBundle();
  let ended = false;
  bundle.once('end', () => {
    ended = true;
    session.phase('unpack');
  });
  const received = await session.exec(receiveScript(root, id), { stdin: bundle });
  if (received.code !== 0) {
    const error = session.failure(`unpacking ${id}`, received);
    // Free what the partial unpack took (a full disk); the next deploy would clean it anyway.
    await session.exec(cleanScript(root)).catch(() => undefined);
    throw error;
  }
  if (!ended) session.phase('unpack');
  session.phase('install');
  const files: [ReleaseFile, string | Buffer][] = [
    ['.env', options.envFile],
    ['.release/release.json', release.manifestBytes],
    ['.release/release.json.sig', release.signatureBytes],
  ];
  try {
    await session.must(`preparing ${id}`, prepareMetadataScript(root, id));
    for (const [file, content] of files) {
      await session.must(`writing ${id}/${file}`, writeReleaseFileScript(root, id, file), {
        stdin: content,
      });
    }
    await session.must(
      `installing ${id}`,
      installScript(root, id, options.sharedPaths, options.replace),
    );
  } catch (error) {
    await session.exec(cleanScript(root)).catch(() => undefined);
    throw error;
  }
}
