import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { mapLimit } from '../../../../shared/fleet/parallel.js';

describe('mapLimit', () => {
  it('runs at most `limit` at once and keeps the order of the items', async () => {
    let running = 0;
    let most = 0;
    const outcomes = await mapLimit([30, 10, 20, 5, 15], 2, async (ms, index) => {
      running++;
      most = Math.max(most, running);
      await sleep(ms);
      running--;
      if (index === 3) throw new Error('four');
      return ms * 2;
    });
    expect(most).toBe(2);
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : 'failed'))).toEqual([
      60,
      20,
      40,
      'failed',
      30,
    ]);
  });

  it('starts nothing new once told to stop', async () => {
    const started: number[] = [];
    let stop = false;
    const outcomes = await mapLimit(
      [1, 2, 3, 4],
      1,
      async (item) => {
        started.push(item);
        if (item === 2) stop = true;
        await sleep(1);
        return item;
      },
      () => !stop,
    );
    expect(started).toEqual([1, 2]);
    expect(outcomes.filter(Boolean)).toHaveLength(2);
  });
});
