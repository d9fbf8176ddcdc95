// Packs one tree in a process of its own, so its peak RSS is the pack's alone.
import { packBundle } from '../shared/bundle.js';
import { peakRssKiB } from './peak-rss.mjs';

const [root, destination, compression] = process.argv.slice(2);
if (!root || !destination || (compression !== 'zstd' && compression !== 'gzip')) {
  throw new Error('usage: pack-child.ts <root> <destination> <zstd|gzip>');
}
const started = performance.now();
const cpu = process.cpuUsage();
const result = await packBundle(
  { root, patterns: ['.'], compression, mtime: 1_700_000_000 },
  destination,
);
const ms = performance.now() - started;
// Process-wide: the main thread and libuv's pool, where the compression runs.
const { user, system } = process.cpuUsage(cpu);
const cpuMs = (user + system) / 1000;
console.log(JSON.stringify({ ms, cpuMs, maxRssKiB: peakRssKiB(), ...result }));
