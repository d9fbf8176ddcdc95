import { describe, expect, it } from 'vitest';
import { progressLine, UploadProgress } from '../../../../shared/host/progress.js';

const MiB = 1024 * 1024;

function clock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

async function drain(source: AsyncIterable<Buffer>): Promise<void> {
  for await (const chunk of source) void chunk;
}

describe('upload progress', () => {
  it('says how much went, of how much, what the wire carried, the rate and the time left', () => {
    expect(
      progressLine({ done: 45 * MiB, total: 150 * MiB, wire: 12 * MiB, elapsedMs: 3000 }),
    ).toBe('45.0 MiB of 150.0 MiB (30%), 12.0 MiB sent, 4.0 MiB/s on the wire, about 7 s left');
    expect(progressLine({ done: 1024, total: 1024, wire: 512, elapsedMs: 1000 })).toBe(
      '1 KiB of 1 KiB (100%), 1 KiB sent, 1 KiB/s on the wire',
    );
    expect(
      progressLine({ done: 10 * MiB, total: 1010 * MiB, wire: 10 * MiB, elapsedMs: 10_000 }),
    ).toMatch(/about 16 min 40 s left$/);
  });

  it('stays quiet for a short upload and reports a long one every few seconds', async () => {
    const time = clock();
    const lines: string[] = [];
    const progress = new UploadProgress({
      label: 'host web-1: v2',
      total: 100 * MiB,
      report: (line) => lines.push(line),
      now: time.now,
    });
    function* upload() {
      for (let i = 0; i < 100; i++) {
        progress.tar(MiB);
        time.advance(250);
        yield Buffer.alloc(1024);
      }
    }
    await drain(progress.wire(upload()));
    progress.finish();
    // 25 s in all: nothing in the first 5 s, then one line per 5 s at most, and a last one.
    expect(lines.length).toBeGreaterThanOrEqual(4);
    expect(lines.length).toBeLessThanOrEqual(6);
    expect(lines.every((line) => line.startsWith('host web-1: v2: '))).toBe(true);
    expect(lines.at(-1)).toMatch(/100\.0 MiB of 100\.0 MiB \(100%\), 100 KiB sent/);

    const quiet: string[] = [];
    const short = new UploadProgress({
      label: 'x',
      total: MiB,
      report: (l) => quiet.push(l),
      now: clock().now,
    });
    short.tar(MiB);
    await drain(short.wire([Buffer.alloc(10)]));
    short.finish();
    expect(quiet).toEqual([]);
  });
});
