import v8 from 'node:v8';

/*
 * Keeps V8's young generation at the size it starts with. Node 24 lets it grow to 64 MiB a
 * semi-space on a machine with a few GiB of memory, and it grows with every object that outlives
 * a scavenge: checking a bundle of 117,714 entries took it there, 128 MiB of the step's peak
 * (docs/decisions.md, "Memory on the runner"). Kept at its first size, the check of that bundle
 * took 5.05 s instead of 5.7 s and its peak RSS fell by 70 to 90 MiB. Imported first by the
 * entries that verify and deploy bundles (run-action, ship, release-action, brr); build-action
 * leaves V8 be, as packing a 1 GiB tree took 6% longer with it.
 */
v8.setFlagsFromString('--semi-space-growth-factor=1');
