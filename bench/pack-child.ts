// Packs one tree in a process of its own, so its peak RSS is the pack's alone.
import { packBundle } from '../shared/bundle.js';

const [root, destination, compression] = process.argv.slice(2);
if (!root || !destination || (compression !== 'zstd' && compression !== 'gzip')) {
  throw new Error('usage: pack-child.ts <root> <destination> <zstd|gzip>');
}
const started = performance.now();
const result = await packBundle(
  { root, patterns: ['.'], compression, mtime: 1_700_000_000 },
  destination,
);
const ms = performance.now() - started;
console.log(JSON.stringify({ ms, maxRssKiB: process.resourceUsage().maxRSS, ...result }));
