import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export type { Compression } from './bundle/compression.js';
export { resolveEntries, type BundleEntry } from './bundle/entries.js';
export { packBundle, type PackOptions, type PackProgress, type PackResult } from './bundle/pack.js';
export type { EntryKind } from './bundle/rules.js';
export {
  checkedEntries,
  checkedTar,
  defaultMaxExpandedBytes,
  DEFAULT_EXPANSION_FLOOR,
  DEFAULT_EXPANSION_RATIO,
  type BundleSource,
  type CheckedEntry,
  type CheckOptions,
} from './bundle/check.js';

/** `sha256:<hex>` of a bundle file, as packBundle reports it. */
export async function bundleDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
  return `sha256:${hash.digest('hex')}`;
}
