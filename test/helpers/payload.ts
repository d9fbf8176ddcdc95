import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  defaultMaxExpandedBytes,
  type BundleSource,
  type Compression,
} from '../../shared/bundle.js';
import { ContentRecorder } from '../../shared/bundle/content.js';
import { ReleasePayload } from '../../shared/bundle/payload.js';
import { receive } from '../../shared/ledger/assets.js';
import { scratchDir } from './scratch.js';

/**
 * A bundle as the run stage keeps it for the hosts once verified: the bundle file as it came,
 * checked entry by entry, its files' bytes and index recorded in the same pass. Removed when
 * the process exits.
 */
export async function payloadOf(
  source: BundleSource,
  compression?: Compression,
): Promise<ReleasePayload> {
  const directory = await scratchDir('brr-payload-');
  const bundle = path.join(directory, 'bundle');
  const recorder = await ContentRecorder.create(path.join(directory, 'content'), bundle);
  try {
    // A file's cap is its size's, as for a bundle downloaded (verifyBundle).
    const capped =
      typeof source === 'string'
        ? { maxExpandedBytes: defaultMaxExpandedBytes((await stat(source)).size) }
        : {};
    const options = { ...(compression ? { compression } : {}), ...capped };
    const body = typeof source === 'string' ? createReadStream(source) : Readable.from(source);
    const received = await receive(body, bundle, Infinity, (bytes) =>
      recorder.record(bytes, options),
    );
    if (received.refusal) throw received.refusal;
  } catch (error) {
    await recorder.abort();
    throw error;
  }
  return new ReleasePayload(await recorder.finish(), directory);
}
