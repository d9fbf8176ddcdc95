import { describe, expect, it } from 'vitest';
import {
  historyLine,
  parseHistory,
  previousGood,
  releasesToPrune,
  releaseStatuses,
  wasCurrent,
  type HistoryEvent,
} from '../../../../shared/host/history.js';

let clock = 0;
const at = () => new Date(Date.UTC(2024, 0, 1, 0, 0, clock++)).toISOString();
const activated = (release: string, from?: string): HistoryEvent => ({
  event: 'activated',
  release,
  time: at(),
  ...(from ? { from } : {}),
});
const failed = (release: string): HistoryEvent => ({
  event: 'failed',
  release,
  time: at(),
  reason: 'health check failed',
});
const commandFailed = (release: string): HistoryEvent => ({
  event: 'release-command-failed',
  release,
  time: at(),
  reason: 'release command failed (exit 3) on deploy@web-1',
});
const rolledBack = (release: string, from: string): HistoryEvent => ({
  event: 'rolled-back',
  release,
  from,
  time: at(),
});

describe('history lines', () => {
  it('are one JSON line each, whatever the values hold', () => {
    const event: HistoryEvent = { ...failed('v2'), reason: 'line one\nline two "quoted"' };
    const line = historyLine(event);
    expect(line).not.toContain('\n');
    expect(parseHistory(`${line}\n`)).toEqual([event]);
  });

  it('skips lines that are not events, such as one cut short by a full disk', () => {
    const good = historyLine(activated('v1'));
    expect(
      parseHistory(
        `${good}\n{"event":"activ\nnot json\n{"event":"other","release":"v1","time":"t"}\n${good}`,
      ),
    ).toHaveLength(2);
  });
});

describe('previous: the last good release before current', () => {
  it('is the release activated before the current one', () => {
    expect(previousGood([activated('v1'), activated('v2', 'v1')], 'v2')).toBe('v1');
  });

  it('skips releases that failed since', () => {
    const history = [
      activated('v1'),
      activated('v2'),
      failed('v3'),
      rolledBack('v2', 'v3'),
      activated('v4'),
    ];
    expect(previousGood(history, 'v4')).toBe('v2');
    expect(
      previousGood([activated('v1'), activated('v2'), failed('v2'), rolledBack('v1', 'v2')], 'v1'),
    ).toBeUndefined();
  });

  it('walks further back after a rollback instead of returning to the release rolled back from', () => {
    const history = [activated('v1'), activated('v2'), activated('v3'), rolledBack('v2', 'v3')];
    expect(previousGood(history, 'v2')).toBe('v1');
  });

  it('counts a release deployed again after a rollback as good', () => {
    const history = [
      activated('v1'),
      activated('v2'),
      rolledBack('v1', 'v2'),
      activated('v2'),
      activated('v3'),
    ];
    expect(previousGood(history, 'v3')).toBe('v2');
  });

  it('only names releases still on the host when asked', () => {
    const history = [activated('v1'), activated('v2'), activated('v3')];
    expect(previousGood(history, 'v3', new Set(['v1', 'v3']))).toBe('v1');
    expect(previousGood([], undefined)).toBeUndefined();
  });
});

describe('a release whose release command failed', () => {
  const history = [activated('v1'), activated('v2'), commandFailed('v3')];

  it('is read back from its line', () => {
    const line = historyLine(commandFailed('v4'));
    expect(parseHistory(line)).toMatchObject([{ event: 'release-command-failed', release: 'v4' }]);
  });

  it('is never previous: it never became current', () => {
    // v3 was on the host, never current: `previous` from v2 is v1, never v3.
    expect(previousGood(history, 'v2')).toBe('v1');
    expect(previousGood([...history, activated('v4')], 'v4')).toBe('v2');
  });

  it('counts as failed until a later deploy of it succeeds', () => {
    expect(releaseStatuses(history).get('v3')?.status).toBe('failed');
    expect(releaseStatuses([...history, activated('v3')]).get('v3')?.status).toBe('good');
    // Pruning: it takes no slot, and goes once older than the releases kept.
    const later = [...history, activated('v4'), activated('v5')];
    const present = ['v1', 'v2', 'v3', 'v4', 'v5'];
    const pruned = releasesToPrune({ present, current: 'v5', history: later, keep: 2 });
    expect(pruned.sort()).toEqual(['v1', 'v2', 'v3']);
  });

  it('was never current, unlike a release activated or rolled back to', () => {
    expect(wasCurrent(history, 'v3')).toBe(false);
    expect(wasCurrent(history, 'v2')).toBe(true);
    expect(wasCurrent([...history, failed('v4'), rolledBack('v2', 'v4')], 'v4')).toBe(false);
    expect(wasCurrent([activated('v1'), rolledBack('v0', 'v1')], 'v0')).toBe(true);
  });
});

describe('pruning to keep', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `v${i + 1}`);

  it('deletes nothing while the count is under keep', () => {
    const history = ids(3).map((id) => activated(id));
    expect(releasesToPrune({ present: ids(3), current: 'v3', history, keep: 3 })).toEqual([]);
    expect(releasesToPrune({ present: ids(3), current: 'v3', history, keep: 5 })).toEqual([]);
  });

  it('deletes the oldest beyond keep, never current or the previous good release', () => {
    const history = ids(6).map((id) => activated(id));
    expect(releasesToPrune({ present: ids(6), current: 'v6', history, keep: 3 }).sort()).toEqual([
      'v1',
      'v2',
      'v3',
    ]);
    // Rolled back from v6 to v2: v2 is current, v6 the newest (ready to roll forward), and v5
    // the previous good release, kept beyond keep.
    const back = [...history, rolledBack('v2', 'v6')];
    const pruned = releasesToPrune({ present: ids(6), current: 'v2', history: back, keep: 2 });
    expect(pruned.sort()).toEqual(['v1', 'v3', 'v4']);
  });

  it('does not let failed releases use up slots, and drops them once older than what is kept', () => {
    const history = [
      activated('v1'),
      activated('v2'),
      failed('v3'),
      rolledBack('v2', 'v3'),
      failed('v4'),
      rolledBack('v2', 'v4'),
      activated('v5'),
    ];
    const present = ['v1', 'v2', 'v3', 'v4', 'v5'];
    // Three good releases, keep 3: nothing goes, failed ones neither.
    expect(releasesToPrune({ present, current: 'v5', history, keep: 3 })).toEqual([]);
    // Keep 2: v5 and v2 stay; v1 goes, and so do the failed v3 and v4, older than v2's last event.
    expect(releasesToPrune({ present, current: 'v5', history, keep: 2 }).sort()).toEqual([
      'v1',
      'v3',
      'v4',
    ]);
    // A failed release newer than what is kept stays for a look.
    const late = [...history, activated('v6'), failed('v7'), rolledBack('v6', 'v7')];
    const pruned = releasesToPrune({
      present: [...present, 'v6', 'v7'],
      current: 'v6',
      history: late,
      keep: 2,
    });
    expect(pruned).not.toContain('v7');
    expect(pruned.sort()).toEqual(['v1', 'v2', 'v3', 'v4']);
  });

  it('orders releases the history never mentions by number, oldest first to go', () => {
    const pruned = releasesToPrune({
      present: ['v9', 'v10', 'v11'],
      current: 'v11',
      history: [activated('v11')],
      keep: 2,
    });
    expect(pruned).toEqual(['v9']);
  });
});
