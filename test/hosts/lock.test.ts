import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployToHost } from './fixtures.js';
import { exists } from '../helpers/files.js';
import { acquireLockScript } from '../../shared/host/scripts/lock.js';
import { readHostState } from '../../shared/host/state.js';
import { ConfigurationError } from '../../shared/errors.js';
import type { Transport } from '../../shared/host/transport.js';
import { silentLog } from '../../shared/log.js';
import { appFiles, releaseOf, tarBuffer } from './bundles.js';
import { runChild } from './deploy-child.js';
import { appDeploy, appEnv, connect, currentOf, freePort, historyOf } from './fixtures.js';
import { startHost, type TestHost } from './sshd.js';

describe('the deploy lock', () => {
  let host: TestHost;
  let a: Transport;
  let b: Transport;
  let port: number;
  let bundle: Buffer;

  beforeAll(async () => {
    host = await startHost();
    [a, b] = await Promise.all([connect(host), connect(host)]);
    port = await freePort();
    bundle = await tarBuffer(await appFiles());
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await host?.stop();
  });

  it('lets one of two deploys started at once proceed; the other fails fast naming the holder', async () => {
    const attempt = async (transport: Transport, id: string, holder: string) => {
      const release = await releaseOf(id, bundle, appEnv(port, id));
      const started = performance.now();
      return deployToHost(
        transport,
        appDeploy(host.root, release, {
          lock: { holder, run: `https://github.com/o/r/actions/runs/${id}`, waitSeconds: 0 },
        }),
      ).then(
        (result) => ({ ok: true as const, result, seconds: (performance.now() - started) / 1000 }),
        (error: unknown) => ({
          ok: false as const,
          error,
          seconds: (performance.now() - started) / 1000,
        }),
      );
    };
    const outcomes = await Promise.all([
      attempt(a, 'v1', 'alice (run 1)'),
      attempt(b, 'v2', 'bob (run 2)'),
    ]);
    const won = outcomes.filter((o) => o.ok);
    const lost = outcomes.filter((o) => !o.ok);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const loser = lost[0];
    const winner = won[0];
    if (!loser || loser.ok || !winner?.ok) throw new Error('unreachable');
    const holder = winner.result.releaseId === 'v1' ? 'alice \\(run 1\\)' : 'bob \\(run 2\\)';
    expect(loser.error).toBeInstanceOf(ConfigurationError);
    expect((loser.error as Error).message).toMatch(
      new RegExp(
        `^host ${host.hostLine}: deploy lock held by ${holder} on .+ \\(pid [0-9]+\\) since 20[0-9-]+T[0-9:.]+Z \\(https://github.com/o/r/actions/runs/${winner.result.releaseId}\\); set lock-timeout to wait for it$`,
      ),
    );
    expect(loser.seconds).toBeLessThan(1);
    expect(await currentOf(host.root)).toBe(`releases/${winner.result.releaseId}`);
    expect(await exists(path.join(host.root, '.deploy/lock'))).toBe(false);
  });

  it('makes a deploy asked to wait proceed after the other, with whole deploys in the history', async () => {
    const phases: string[] = [];
    const deploy = async (transport: Transport, id: string) =>
      deployToHost(
        transport,
        appDeploy(host.root, await releaseOf(id, bundle, appEnv(port, id)), {
          lock: { holder: id, waitSeconds: 30 },
          onPhase: (phase) => phases.push(`${id} ${phase}`),
        }),
      );
    const results = await Promise.all([deploy(a, 'v3'), deploy(b, 'v4')]);
    expect(results.map((r) => r.result)).toEqual(['activated', 'activated']);
    // Both try the lock at once; the one that got it inspects first.
    const first = phases.find((p) => p.endsWith(' inspect'))?.split(' ')[0];
    const second = first === 'v3' ? 'v4' : 'v3';
    // The second one's steps (past its lock attempts) all come after the first one unlocked.
    const firstUnlock = phases.indexOf(`${first} unlock`);
    const secondInspect = phases.indexOf(`${second} inspect`);
    expect(secondInspect).toBeGreaterThan(firstUnlock);
    expect(phases.slice(secondInspect).every((p) => p.startsWith(`${second} `))).toBe(true);
    const history = await historyOf(host.root);
    expect(history.slice(-2).map((e) => [e.event, e.release])).toEqual([
      ['activated', first],
      ['activated', second],
    ]);
    expect(await currentOf(host.root)).toBe(`releases/${second}`);
  });

  it('is left behind by a killed deploy and taken over once its heartbeat is stale, with nobody’s help', async () => {
    const job = {
      host,
      root: host.root,
      id: 'v5',
      env: appEnv(port, 'five'),
      fillerBytes: 0,
      // Holds the lock in the health check long enough to be killed there.
      healthCheck: 'sleep 30',
      lock: { holder: 'killed run', waitSeconds: 0, staleSeconds: 2 },
    };
    const killed = await runChild(job, 'health-check');
    expect(killed.signal).toBe('SIGKILL');
    expect(await exists(path.join(host.root, '.deploy/lock'))).toBe(true);
    const fresh = await readHostState(a, { root: host.root, log: silentLog, staleSeconds: 2 });
    expect(fresh.lock).toMatchObject({
      holder: expect.stringMatching(/^killed run on .+ \(pid [0-9]+\)$/) as unknown,
      stale: false,
    });

    const lines: string[] = [];
    const started = performance.now();
    const result = await deployToHost(
      a,
      appDeploy(host.root, await releaseOf('v6', bundle, appEnv(port, 'six')), {
        lock: { holder: 'next run', waitSeconds: 10, staleSeconds: 2 },
        log: { ...silentLog, info: (line) => lines.push(line) },
      }),
    );
    expect(result.result).toBe('activated');
    // It waited for the heartbeat to go stale: more than the stale age after the kill, not the 10 s.
    expect((performance.now() - started) / 1000).toBeLessThan(8);
    expect(lines).toContainEqual(
      expect.stringMatching(
        /: took over the deploy lock of killed run on .+, silent for [0-9]+ s$/,
      ),
    );
    expect(await currentOf(host.root)).toBe('releases/v6');
    expect(await exists(path.join(host.root, '.deploy/lock'))).toBe(false);
    expect(
      (await historyOf(host.root)).some((e) => e.release === 'v5' && e.event !== 'failed'),
    ).toBe(false);
  });

  it('waits out a lock whose holder missed its beats even without lock-timeout; a fresh one fails at once', async () => {
    const record = {
      holder: 'gone',
      pid: 1,
      machine: 'elsewhere',
      started: new Date().toISOString(),
    };
    const plant = async (ageSeconds: number) => {
      expect((await a.exec(acquireLockScript(host.root, record, randomUUID(), 'n'))).code).toBe(0);
      const beat = Math.floor(Date.now() / 1000) - ageSeconds;
      await writeFile(path.join(host.root, '.deploy/lock/heartbeat'), `${beat}\n`);
    };
    const next = async () =>
      deployToHost(
        a,
        appDeploy(host.root, await releaseOf('v7', bundle, appEnv(port, 'seven')), {
          lock: { holder: 'next', waitSeconds: 0, staleSeconds: 4 },
        }),
      );
    await plant(0);
    await expect(next()).rejects.toThrow(/deploy lock held by gone on elsewhere \(pid 1\)/);
    await rm(path.join(host.root, '.deploy/lock'), { recursive: true });
    // Three seconds without a beat, where one comes every second: dead, waited out and taken.
    await plant(3);
    expect((await next()).result).toBe('activated');
  });

  it('never takes over a live holder, however slow: its heartbeat keeps the lock', async () => {
    const eight = await releaseOf('v8', bundle, appEnv(port, 'eight'));
    const nine = await releaseOf('v9', bundle, appEnv(port, 'nine'));
    const slow = deployToHost(
      a,
      appDeploy(host.root, eight, {
        healthCheck: 'sleep 7; bin/health',
        lock: { holder: 'slow', waitSeconds: 0, staleSeconds: 2 },
      }),
    );
    const others: Promise<unknown>[] = [];
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      others.push(
        deployToHost(
          b,
          appDeploy(host.root, nine, {
            lock: { holder: `impatient ${i}`, waitSeconds: 0, staleSeconds: 2 },
          }),
        ).then(
          () => 'deployed',
          (error: unknown) => (error as Error).message,
        ),
      );
    }
    expect((await slow).result).toBe('activated');
    for (const outcome of await Promise.all(others)) {
      expect(outcome).toMatch(/deploy lock held by slow on /);
    }
    expect(await currentOf(host.root)).toBe('releases/v8');
    expect((await historyOf(host.root)).at(-1)).toMatchObject({
      event: 'activated',
      release: 'v8',
    });
  });
});
