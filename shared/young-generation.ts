import v8 from 'node:v8';

/*
 * Keeps V8's young generation at the size it starts with. Node 24 lets it grow to 64 MiB per
 * semi-space on a machine with a few GiB of memory, and it grows with every object that outlives
 * a scavenge: checking a bundle of 100,000 entries took it there, 128 MiB of the step's peak
 * (docs/decisions.md, "Memory"). Left at its first size, the peak of a 1 GiB deploy fell by
 * about 120 MiB and the step was no slower. Imported first by each entry, before any work.
 */
v8.setFlagsFromString('--semi-space-growth-factor=1');
