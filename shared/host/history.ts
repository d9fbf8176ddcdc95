import { releaseNumber } from '../names.js';

/**
 * One line of `<path>/.deploy/history`: what became current on the host, and what failed.
 * - activated: `release` became current and passed its health check;
 * - failed: `release` was tried and failed (restart or health check); `current` went back;
 * - rolled-back: `release` became current again, replacing `from`;
 * - release-command-failed: `release` was on the host, its release command failed, and it never
 *   became current (nothing was switched anywhere).
 */
export interface HistoryEvent {
  event: 'activated' | 'failed' | 'rolled-back' | 'release-command-failed';
  release: string;
  time: string;
  digest?: string;
  from?: string;
  reason?: string;
  by?: string;
  run?: string;
}

const EVENTS = new Set(['activated', 'failed', 'rolled-back', 'release-command-failed']);

/** Events after which a release is not good: it failed to come up, or never got that far. */
function failedEvent(event: HistoryEvent): boolean {
  return event.event === 'failed' || event.event === 'release-command-failed';
}

/** One JSON line: JSON escapes newlines, so an event can never split the file's lines. */
export function historyLine(event: HistoryEvent): string {
  return JSON.stringify(event);
}

/** Reads history lines, skipping what is not an event (a line cut short by a full disk). */
export function parseHistory(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const value = JSON.parse(line) as Partial<HistoryEvent> | null;
      if (
        value &&
        typeof value === 'object' &&
        typeof value.event === 'string' &&
        EVENTS.has(value.event) &&
        typeof value.release === 'string' &&
        typeof value.time === 'string'
      ) {
        events.push(value as HistoryEvent);
      }
    } catch {
      continue;
    }
  }
  return events;
}

/**
 * The last good release before `current`: walking back, the newest release that became current
 * (activated, or rolled back to) and was not failed or rolled back from afterwards.
 */
export function previousGood(
  history: readonly HistoryEvent[],
  current: string | undefined,
  present?: ReadonlySet<string>,
): string | undefined {
  const bad = new Set<string>();
  for (let i = history.length - 1; i >= 0; i--) {
    const event = history[i];
    if (!event) continue;
    if (failedEvent(event)) {
      bad.add(event.release);
      continue;
    }
    if (event.event === 'rolled-back' && event.from !== undefined) {
      if (event.release !== current && !bad.has(event.release) && available(event.release)) {
        return event.release;
      }
      bad.add(event.from);
      continue;
    }
    if (event.release !== current && !bad.has(event.release) && available(event.release)) {
      return event.release;
    }
  }
  return undefined;

  function available(id: string): boolean {
    return present === undefined || present.has(id);
  }
}

/**
 * Whether `id` was ever current on the host (activated, or rolled back to): deploying it again is
 * a return to it, whose release command already ran when it first went out.
 */
export function wasCurrent(history: readonly HistoryEvent[], id: string): boolean {
  return history.some(
    (event) =>
      event.release === id && (event.event === 'activated' || event.event === 'rolled-back'),
  );
}

export type ReleaseStatus = 'good' | 'failed' | 'unknown';

/** What the history says of each release: its last word, and how recently it was spoken. */
export function releaseStatuses(
  history: readonly HistoryEvent[],
): Map<string, { status: ReleaseStatus; index: number; time: string }> {
  const statuses = new Map<string, { status: ReleaseStatus; index: number; time: string }>();
  history.forEach((event, index) => {
    statuses.set(event.release, {
      status: failedEvent(event) ? 'failed' : 'good',
      index,
      time: event.time,
    });
  });
  return statuses;
}

/**
 * Releases to delete so that `keep` good ones stay: newest first by history, then those the
 * history never mentions, by number. Never current, never the previous good release; failed
 * releases use up no slot and go only once they are older than the last release kept; below
 * `keep` good releases nothing goes.
 */
export function releasesToPrune(options: {
  present: readonly string[];
  current: string | undefined;
  history: readonly HistoryEvent[];
  keep: number;
}): string[] {
  const { present, current, history, keep } = options;
  const statuses = releaseStatuses(history);
  const previous = previousGood(history, current, new Set(present));
  const ordered = [...present].sort((a, b) => {
    const ia = statuses.get(a)?.index ?? -1;
    const ib = statuses.get(b)?.index ?? -1;
    if (ia !== ib) return ib - ia;
    return (releaseNumber(b) ?? 0) - (releaseNumber(a) ?? 0) || (a < b ? 1 : a > b ? -1 : 0);
  });
  const good = ordered.filter((id) => statuses.get(id)?.status !== 'failed');
  if (good.length <= keep) return [];
  const prune: string[] = [];
  let slots = 0;
  for (const id of ordered) {
    const failed = statuses.get(id)?.status === 'failed';
    if (id === current || id === previous) {
      if (!failed) slots++;
      continue;
    }
    if (failed) {
      if (slots >= keep) prune.push(id);
      continue;
    }
    if (slots < keep) slots++;
    else prune.push(id);
  }
  return prune;
}
