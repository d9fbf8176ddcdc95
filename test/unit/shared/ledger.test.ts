import { describe, expect, it } from 'vitest';
import { gitHubClient, rateLimitOf, type GitHub } from '../../../shared/github.js';
import {
  pacer,
  parseReservation,
  previousRelease,
  readIndex,
  refPatternMatches,
  reservationMessage,
  reserve,
  type WaitBounds,
} from '../../../shared/ledger.js';
import { silentLog } from '../../../shared/log.js';
import { useGitHub } from '../../emulator/vitest.js';

const emulator = useGitHub();

describe('ruleset patterns', () => {
  it('match as GitHub’s fnmatch does: * within a segment, ** across, ~ALL everything', () => {
    const tag = 'refs/tags/shop/production/v12';
    expect(refPatternMatches('refs/tags/shop/production/*', tag)).toBe(true);
    expect(refPatternMatches('refs/tags/shop/*', tag)).toBe(false);
    expect(refPatternMatches('refs/tags/shop/**', tag)).toBe(true);
    expect(refPatternMatches('refs/tags/**/v12', tag)).toBe(true);
    expect(refPatternMatches('~ALL', tag)).toBe(true);
    expect(refPatternMatches('refs/tags/shop/production/v1', tag)).toBe(false);
    // Pattern text is literal but for the wildcards.
    expect(refPatternMatches('refs/tags/shop.production/*', 'refs/tags/shopXproduction/v1')).toBe(
      false,
    );
  });
});

describe('reservations', () => {
  it('name their job in the tag object, and nothing else reads as one', () => {
    const holder = { runId: 42, attempt: 2, build: 'a'.repeat(40), nonce: '0f1e2d' };
    expect(parseReservation(reservationMessage(holder))).toEqual(holder);
    expect(parseReservation('v1.2.3\n\nrun: 42')).toBeUndefined();
    expect(
      parseReservation(reservationMessage(holder).replace('attempt: 2', 'attempt: two')),
    ).toBeUndefined();
  });
});

/** A pacer on a clock the test moves: each sleep advances it. */
function pacedClock(bounds: Partial<WaitBounds>) {
  let now = 0;
  const sleeps: number[] = [];
  const pace = pacer({} as GitHub, {
    seconds: 300,
    requests: 60,
    now: () => now,
    sleep: (ms) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
    ...bounds,
  });
  return { pace, sleeps };
}

describe('waits on GitHub', () => {
  it('back off 1 s, 2 s, 4 s … up to 30 s, and end when the time is up', async () => {
    const { pace, sleeps } = pacedClock({ seconds: 120, budget: () => undefined });
    while (await pace.pause());
    expect(sleeps).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(120_000);
  });

  it('end when the requests they may spend are spent', async () => {
    const { pace, sleeps } = pacedClock({ requests: 6, budget: () => undefined });
    let polls = 0;
    while (await pace.pause()) {
      polls++;
      pace.spend(3);
    }
    expect(polls).toBe(2);
    expect(pace.spent).toBe(6);
    expect(sleeps).toHaveLength(2);
  });

  it('slow down when the token’s budget runs low, spreading what is left over the hour', async () => {
    const { pace, sleeps } = pacedClock({
      seconds: 3600,
      budget: () => ({ remaining: 20, resetAt: 1_200_000 }),
    });
    await pace.pause();
    // 1,200 s until the budget is whole again, 20 requests left: one a minute.
    expect(sleeps).toEqual([60_000]);
  });

  it('know the budget from GitHub’s answers: 1,000 an hour for the Actions token', async () => {
    const github = emulator();
    const repository = github.createRepository('acme/budget');
    const env = github.runnerEnv({ repository: repository.fullName });
    const client = gitHubClient({ token: env.GITHUB_TOKEN, apiUrl: github.apiUrl, log: silentLog });
    expect(rateLimitOf(client)).toBeUndefined();
    await client.rest.repos.get({ owner: 'acme', repo: 'budget' });
    expect(rateLimitOf(client)?.remaining).toBe(999);
  });
});

describe('a lower number still being made', () => {
  it('is waited for within bounds and named with its job; once its run ends, passed over', async () => {
    const github = emulator();
    github.createRepository('acme/in-flight');
    const env = github.runnerEnv({ repository: 'acme/in-flight', runId: 501 });
    const client = gitHubClient({ token: env.GITHUB_TOKEN, apiUrl: github.apiUrl, log: silentLog });
    const scope = { owner: 'acme', repo: 'in-flight', app: 'shop', environment: 'production' };
    const holder = { runId: 501, attempt: 1, build: 'a'.repeat(40), nonce: 'n1' };
    const held = await reserve(client, scope, {
      index: await readIndex(client, scope),
      holder,
      defaultBranch: 'main',
      log: silentLog,
    });
    expect(held.tag).toBe('shop/production/v1');
    const index = await readIndex(client, scope);
    const walk = { below: 2, wait: { seconds: 3, requests: 40 }, log: silentLog };
    const started = Date.now();
    await expect(previousRelease(client, scope, index, walk)).rejects.toThrow(
      /^release tag shop\/production\/v1: another release job \(run 501, attempt 1\) still holds it without publishing, after \d+ checks; /,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    github.completeRun('acme/in-flight', 501);
    expect(await previousRelease(client, scope, index, walk)).toBeUndefined();
  });
});
