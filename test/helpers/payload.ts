import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkedEntries, type BundleSource, type Compression } from '../../shared/bundle.js';
import { ContentRecorder } from '../../shared/bundle/content.js';
import { ReleasePayload } from '../../shared/bundle/payload.js';

const made: string[] = [];
process.once('exit', () => {
  for (const directory of made) rmSync(directory, { recursive: true, force: true });
});

/**
 * A bundle as the run stage keeps it for the hosts once verified: checked entry by entry, its
 * files' bytes and index recorded in the same pass. Removed when the process exits.
 */
export async function payloadOf(
  source: BundleSource,
  compression?: Compression,
): Promise<ReleasePayload> {
  const directory = await mkdtemp(path.join(tmpdir(), 'brr-payload-'));
  made.push(directory);
  const recorder = await ContentRecorder.create(path.join(directory, 'content'));
  try {
    for await (const entry of checkedEntries(source, compression ? { compression } : {})) {
      await recorder.add(entry);
    }
  } catch (error) {
    await recorder.abort();
    throw error;
  }
  return new ReleasePayload(await recorder.finish(), directory);
}
