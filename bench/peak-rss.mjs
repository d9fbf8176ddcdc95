// Preloaded into a process (NODE_OPTIONS=--import) to write its peak RSS, in KiB, when it exits.
//
// The peak of this process's own memory, as Linux counts it for the program now running
// (VmHWM in /proc/self/status). Not process.resourceUsage().maxRSS: Linux carries that figure
// over from the process that forked this one, so a child of a bench holding 270 MiB reported
// 270 MiB before it had done anything.
import { readFileSync, writeFileSync } from 'node:fs';

/** VmHWM in KiB, or the rusage figure where /proc is not there. */
export function peakRssKiB() {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    if (hwm) return Number(hwm[1]);
  } catch {
    // Not Linux: the rusage figure, with its caveat.
  }
  return process.resourceUsage().maxRSS;
}

const file = process.env.BENCH_PEAK_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(peakRssKiB())));

// With BENCH_MEMORY_TRACE=<file>, a line appended to it every 100 ms: the process, ms since it
// started, RSS, heap used and array buffers in MiB; to see when a peak is reached, and by what.
const trace = process.env.BENCH_MEMORY_TRACE;
if (trace) {
  const { appendFileSync } = await import('node:fs');
  const start = Date.now();
  const mib = (bytes) => (bytes / 1048576).toFixed(1);
  setInterval(() => {
    const m = process.memoryUsage();
    const line = [
      process.pid,
      Date.now() - start,
      mib(m.rss),
      mib(m.heapUsed),
      mib(m.arrayBuffers),
    ];
    appendFileSync(trace, `${line.join(' ')}\n`);
  }, 100).unref();
}
