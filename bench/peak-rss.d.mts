/** This process's peak RSS in KiB: VmHWM on Linux (see peak-rss.mjs). */
export function peakRssKiB(): number;
