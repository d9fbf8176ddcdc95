import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const MODULE = join(ROOT, 'shared', 'runner-memory.ts');

/**
 * Allocates as a bundle check does, many short-lived objects and some kept, then prints the
 * young generation's size in MiB.
 */
const ALLOCATE = `
import v8 from 'node:v8';
const kept = [];
let churn = [];
for (let i = 0; i < 3_000_000; i++) {
  churn.push({ i, name: 'entry ' + i });
  if (churn.length === 1000) churn = [];
  if (i % 8 === 0) kept.push({ i });
}
const young = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
console.log(young.space_size / 1048576);
`;

/**
 * Streams 256 MiB through buffers of a MiB, each dropped at once, pausing now and then as a
 * stream waits for its reader; prints the most buffers held at once, in MiB.
 */
const STREAM = `
let peak = 0;
for (let i = 0; i < 256; i++) {
  Buffer.allocUnsafe(1 << 20).fill(i);
  peak = Math.max(peak, process.memoryUsage().arrayBuffers);
  if (i % 2 === 1) await new Promise((resolve) => setTimeout(resolve, 25));
}
console.log(peak / 1048576);
`;

function printed(imports: string[], script: string): number {
  const args = [...imports.flatMap((file) => ['--import', file]), '--input-type=module', '-e'];
  return Number(execFileSync(process.execPath, [...args, script], { encoding: 'utf8' }).trim());
}

const youngGenerationMiB = (imports: string[]) => printed(imports, ALLOCATE);

describe('the runner’s memory', () => {
  it('grows under such a load when left to V8, and stays at its first size with the module', () => {
    expect(youngGenerationMiB([])).toBeGreaterThanOrEqual(16);
    expect(youngGenerationMiB([MODULE])).toBeLessThanOrEqual(4);
  });

  it('holds dead buffers until they reach 64 MiB when left to V8, and far fewer with the module', () => {
    expect(printed([], STREAM)).toBeGreaterThanOrEqual(60);
    expect(printed([MODULE], STREAM)).toBeLessThanOrEqual(40);
  });

  it.each(['release-action/src/index.ts', 'run-action/src/index.ts', 'src/index.ts'])(
    'is kept small by %s before anything else is imported',
    (entry) => {
      const first = readFileSync(join(ROOT, entry), 'utf8').match(/^import .*$/m)?.[0];
      expect(first).toMatch(/^import '(\.\.\/)+shared\/runner-memory\.js';$/);
    },
  );

  it('is kept small by brr before its commands load', () => {
    const source = readFileSync(join(ROOT, 'cli', 'src', 'index.ts'), 'utf8');
    const loads = [...source.matchAll(/await import\('([^']+)'\)/g)].map((match) => match[1]);
    expect(loads[0]).toBe('../../shared/runner-memory.js');
  });
});
