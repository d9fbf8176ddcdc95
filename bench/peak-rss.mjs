// Preloaded into a process (NODE_OPTIONS=--import) to write its peak RSS, in KiB, when it exits.
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_PEAK_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
