import { INDEX_HEADER } from '../bundle/file-index.js';
import type { ReleasePayload } from '../bundle/payload.js';
import { planTransfer, rewriteIndex, uploadStream } from './delta-transfer.js';
import type { HostTools } from './scripts/tools.js';
import { installScript, receiveScript } from './scripts/release.js';
import { EXIT, cleanScript } from './scripts/root.js';
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
  /** The verified bundle: its index, and the streams hosts read, made once per plan. */
  payload: ReleasePayload;
}

export interface TransferOptions {
  release: HostRelease;
  /** The `.env` as shared/dotenv.ts renders it. */
  envFile: string;
  /** Directories under `shared/` linked into the release. */
  sharedPaths: readonly string[];
  /** Replace a release directory of the same ID that holds another release.json. */
  replace: boolean;
  /** What the host offers a transfer, as its inspection found. */
  tools: HostTools;
  /** The release to build from: current when on disk, else the newest good one. */
  base: string | undefined;
}

/**
 * Puts a release directory on the host: the files its newest release has as shipped linked
 * from it, the rest sent, compressed when the host can decompress; its `.env`, signed manifest
 * and index in the same stream; shared paths linked, then renamed into place, so a release
 * directory that exists is complete. A failure leaves nothing half-made behind.
 */
export async function transferRelease(
  session: HostSession,
  options: TransferOptions,
): Promise<void> {
  const { release, tools } = options;
  const { root } = session;
  const { id, payload } = release;
  if (options.base !== undefined) session.phase('check');
  const next = payload.index;
  const planned = await planTransfer(session, { root, base: options.base, tools, next });
  session.phase('upload');
  const upload = uploadStream({
    id,
    payload,
    planned,
    tools,
    files: [
      { path: '.env', content: Buffer.from(options.envFile), mode: 0o600 },
      { path: '.release/release.json', content: release.manifestBytes },
      { path: '.release/release.json.sig', content: release.signatureBytes },
    ],
    progress: { label: `host ${session.label}: ${id}`, report: (line) => session.log.info(line) },
  });
  session.log.info(`host ${session.label}: ${id}: ${upload.summary}`);
  upload.stdin.once('end', () => session.phase('unpack'));
  const install = {
    id,
    sharedPaths: options.sharedPaths,
    replace: options.replace,
    stamps: tools.stamps,
  };
  const script = receiveScript(root, {
    ...install,
    decompressor: tools.decompressor,
    relative: upload.relative,
    nonce: upload.nonce,
    index: { base: planned.base, how: planned.plan.update.how, header: INDEX_HEADER },
    indexDigest: tools.hash ? { hash: tools.hash, hex: payload.indexDigest } : undefined,
  });
  try {
    const received = await session.exec(script, { stdin: upload.stdin });
    upload.finish();
    session.phase('install');
    if (received.code === EXIT.indexDiffers) {
      await rewriteIndex(session, { root, id, payload, tools });
      await session.must(`installing ${id}`, installScript(root, install));
    } else if (received.code !== 0) {
      throw session.failure(`unpacking ${id}`, received);
    }
  } catch (error) {
    // Free what the partial unpack took (a full disk); the next deploy would clean it anyway.
    await session.exec(cleanScript(root)).catch(() => undefined);
    throw error;
  }
}
