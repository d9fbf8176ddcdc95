import { rateLimitOf, type GitHub, type RateLimit } from '../github.js';

/**
 * Waits on GitHub bounded in time and in requests: backing off (1 s, 2 s, 4 s … 30 s), and
 * slower still when the token's budget runs low, since an Actions token has 1,000 requests an
 * hour for the whole repository.
 */

export interface WaitBounds {
  seconds: number;
  /** Requests the waiting may spend in all. */
  requests: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** The token's budget; default what GitHub's last answer said. */
  budget?: () => RateLimit | undefined;
}

/** Below this many requests left, polls spread what is left over the rest of the hour. */
export const LOW_BUDGET = 100;
const FIRST_DELAY_MS = 1000;
const LONGEST_DELAY_MS = 30_000;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Pacer {
  /** Counts requests a poll made. */
  spend(requests: number): void;
  /** Sleeps before the next poll; false when time or requests are used up. */
  pause(): Promise<boolean>;
  readonly spent: number;
}

export function pacer(github: GitHub, bounds: WaitBounds): Pacer {
  const now = bounds.now ?? Date.now;
  const sleep = bounds.sleep ?? realSleep;
  const deadline = now() + bounds.seconds * 1000;
  let delay = FIRST_DELAY_MS;
  let spent = 0;
  return {
    get spent() {
      return spent;
    },
    spend(requests) {
      spent += requests;
    },
    async pause() {
      if (spent >= bounds.requests) return false;
      let wait = delay;
      const budget = bounds.budget ? bounds.budget() : rateLimitOf(github);
      if (budget && budget.remaining < LOW_BUDGET) {
        wait = Math.max(wait, (budget.resetAt - now()) / Math.max(1, budget.remaining));
      }
      if (now() + wait > deadline) return false;
      await sleep(wait);
      delay = Math.min(delay * 2, LONGEST_DELAY_MS);
      return true;
    },
  };
}
