import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  defaultMaxExpandedBytes,
  type BundleSource,
  type Compression,
} from '../../shared/bundle.js';
import { ContentRecorder } from '../../shared/bundle/content.js';
import { ReleasePayload } from '../../shared/bundle/payload.js';
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
  const kept = await open(bundle, 'wx');
  async function* keeping(): AsyncGenerator<Buffer> {
    const bytes = typeof source === 'string' ? createReadStream(source) : source;
    for await (const chunk of bytes) {
      await kept.write(chunk as Buffer);
      yield chunk as Buffer;
    }
  }
  try {
    // A file's cap is its size's, as for a bundle downloaded (verifyBundle).
    const capped =
      typeof source === 'string'
        ? { maxExpandedBytes: defaultMaxExpandedBytes((await stat(source)).size) }
        : {};
    await recorder.record(keeping(), { ...(compression ? { compression } : {}), ...capped });
  } catch (error) {
    await recorder.abort();
    throw error;
  } finally {
    await kept.close();
  }
  return new ReleasePayload(await recorder.finish(), directory);
}
