import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployToHost } from '../../shared/host/deploy.js';
import { readHostState } from '../../shared/host/state.js';
import { ConfigurationError } from '../../shared/errors.js';
import type { Transport } from '../../shared/host/transport.js';
import { silentLog } from '../../shared/log.js';
import { appFiles, releaseOf, tarBuffer } from './bundles.js';
import { runChild } from './deploy-child.js';
import { appDeploy, appEnv, connect, currentOf, exists, freePort, historyOf } from './fixtures.js';
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
    const attempt = (transport: Transport, id: string, holder: string) => {
      const started = performance.now();
      return deployToHost(
        transport,
        appDeploy(host.root, releaseOf(id, bundle, appEnv(port, id)), {
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
    const deploy = (transport: Transport, id: string) =>
      deployToHost(
        transport,
        appDeploy(host.root, releaseOf(id, bundle, appEnv(port, id)), {
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

  it('is left behind by a killed deploy, found stale, and reported with how to clear it', async () => {
    const job = {
      host,
      root: host.root,
      id: 'v5',
      env: appEnv(port, 'five'),
      fillerBytes: 0,
      // Holds the lock in the health check long enough to be killed there.
      healthCheck: 'sleep 30',
      lock: { holder: 'killed run', waitSeconds: 0, staleSeconds: 1 },
    };
    const killed = await runChild(job, 'health-check');
    expect(killed.signal).toBe('SIGKILL');
    expect(await exists(path.join(host.root, '.deploy/lock'))).toBe(true);

    const fresh = await readHostState(a, { root: host.root, log: silentLog, staleSeconds: 1 });
    expect(fresh.lock).toMatchObject({
      holder: expect.stringMatching(/^killed run on .+ \(pid [0-9]+\)$/) as unknown,
    });

    await new Promise((resolve) => setTimeout(resolve, 2500));
    const next = () =>
      deployToHost(
        a,
        appDeploy(host.root, releaseOf('v6', bundle, appEnv(port, 'six')), {
          lock: { holder: 'next run', waitSeconds: 0, staleSeconds: 1 },
        }),
      );
    const error = await next().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    const clear = `rm -rf ${host.root}/.deploy/lock`;
    expect(error?.message).toMatch(
      new RegExp(
        `^host ${host.hostLine}: deploy lock held by killed run on .+ since .+ looks stale \\(no heartbeat for [0-9]+ s\\); if no deploy is running there, clear it on the host with: ${clear}$`,
      ),
    );
    // What the message says to run works.
    execFileSync('sh', ['-c', clear]);
    expect((await next()).result).toBe('activated');
  });
});
