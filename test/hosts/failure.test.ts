import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployToHost } from './fixtures.js';
import { readHostState } from '../../shared/host/state.js';
import type { Transport } from '../../shared/host/transport.js';
import { silentLog } from '../../shared/log.js';
import { appFiles, releaseOf, tarBuffer } from './bundles.js';
import { appDeploy, appEnv, ask, connect, currentOf, freePort, historyOf } from './fixtures.js';
import { exists } from '../helpers/files.js';
import { startHost, type TestHost } from './sshd.js';

describe('a release that fails on the host', () => {
  let host: TestHost;
  let ssh: Transport;
  let port: number;
  let bundle: Buffer;

  beforeAll(async () => {
    host = await startHost();
    ssh = await connect(host);
    port = await freePort();
    bundle = await tarBuffer(await appFiles());
  });

  afterAll(async () => {
    await ssh?.close();
    await host?.stop();
  });

  it('goes back to the previous release when its health check fails, restarts it and records the failure', async () => {
    await deployToHost(
      ssh,
      appDeploy(host.root, await releaseOf('v1', bundle, appEnv(port, 'one'))),
    );
    const before = await ask(port);

    // A config mistake: the app refuses to start without GREETING, so nothing answers.
    const broken = await releaseOf('v2', bundle, appEnv(port, ''));
    const started = performance.now();
    const result = await deployToHost(
      ssh,
      appDeploy(host.root, broken, { healthTimeoutSeconds: 2 }),
    );
    expect((performance.now() - started) / 1000).toBeLessThan(6);

    expect(result).toMatchObject({
      result: 'failed-rolled-back',
      previousId: 'v1',
      currentId: 'v1',
    });
    expect(result.failure?.step).toBe('health-check');
    expect(result.failure?.message).toMatch(
      new RegExp(
        `^host ${host.hostLine}: v2: health check failed for [0-9]+ s \\([0-9]+ attempts\\); switched back to v1 and restarted it; last output: .*ECONNREFUSED`,
      ),
    );
    expect(result.failure?.message).not.toContain('\n');
    expect(result.failure?.output).toMatch(
      /GET http:\/\/127\.0\.0\.1:[0-9]+\/health: ECONNREFUSED/,
    );

    expect(await currentOf(host.root)).toBe('releases/v1');
    const after = await ask(port);
    expect(after).toMatchObject({ greeting: 'one', release: 'v1' });
    expect(after.pid).not.toBe(before.pid);
    const history = await historyOf(host.root);
    expect(history.map((e) => [e.event, e.release, e.from])).toEqual([
      ['activated', 'v1', undefined],
      ['failed', 'v2', undefined],
      ['rolled-back', 'v1', 'v2'],
    ]);
    expect(history[1]?.reason).toMatch(/health check failed/);
    expect(await exists(path.join(host.root, '.deploy/lock'))).toBe(false);

    const state = await readHostState(ssh, { root: host.root, log: silentLog });
    expect(state.releases.find((r) => r.id === 'v2')?.status).toBe('failed');
    expect(state.previous).toBeUndefined();
  });

  it('goes back when the restart command fails, with its output', async () => {
    const result = await deployToHost(
      ssh,
      appDeploy(host.root, await releaseOf('v3', bundle, appEnv(port, 'three')), {
        restart: 'echo "cannot bind: port busy" >&2; exit 3',
      }),
    );
    expect(result).toMatchObject({ result: 'failed-rolled-back', currentId: 'v1' });
    expect(result.failure?.step).toBe('restart');
    expect(result.failure?.message).toMatch(
      /v3: restart failed; switched back to v1, which did not come up either: .*last output: cannot bind: port busy$/,
    );
    expect(await currentOf(host.root)).toBe('releases/v1');
  });

  it('leaves nothing current when a first deploy fails: there is nothing to go back to', async () => {
    const other = await startHost();
    try {
      const transport = await connect(other);
      const result = await deployToHost(
        transport,
        appDeploy(other.root, await releaseOf('v1', bundle, appEnv(port, 'x')), {
          restart: undefined,
          healthCheck: 'echo not ready; exit 1',
          healthTimeoutSeconds: 1,
        }),
      );
      await transport.close();
      expect(result).toMatchObject({ result: 'failed', currentId: undefined });
      expect(result.failure?.message).toMatch(
        /nothing was current before, so nothing is current now; last output: not ready$/,
      );
      expect(await currentOf(other.root)).toBeUndefined();
      expect((await historyOf(other.root)).map((e) => e.event)).toEqual(['failed']);
    } finally {
      await other.stop();
    }
  });
});
