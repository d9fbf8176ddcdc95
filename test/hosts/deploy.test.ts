import { readFile, readdir, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployToHost } from './fixtures.js';
import { destroyHost } from '../../shared/host/destroy.js';
import { dryRunHost, readHostState } from '../../shared/host/state.js';
import { rollbackHost } from '../../shared/host/rollback.js';
import { renderEnvFile } from '../../shared/dotenv.js';
import type { Transport } from '../../shared/host/transport.js';
import { silentLog } from '../../shared/log.js';
import { appFiles, releaseOf, tarBuffer } from './bundles.js';
import { appDeploy, appEnv, ask, connect, currentOf, freePort, historyOf } from './fixtures.js';
import { exists } from '../helpers/files.js';
import { startHost, type TestHost } from './sshd.js';

describe('deploy to a real SSH host', () => {
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

  it('deploys v1 then v2 in the documented layout, and the app answers with v2 config', async () => {
    const phases: string[] = [];
    const v1 = await releaseOf(
      'v1',
      bundle,
      appEnv(port, 'hello from v1', { SECRET_TOKEN: 's3cr3t' }),
    );
    const first = await deployToHost(
      ssh,
      appDeploy(host.root, v1, { onPhase: (p) => phases.push(p) }),
    );
    expect(first).toMatchObject({
      result: 'activated',
      releaseId: 'v1',
      previousId: undefined,
      currentId: 'v1',
    });
    expect(first.skippedUpload).toBe(false);
    // The bundle compressed on the wire, zstd as the host has it.
    expect(first.bytesSent).toBeGreaterThan(0);
    expect(first.bytesSent).toBeLessThan(bundle.length / 2);
    expect(phases).toEqual([
      'lock',
      'inspect',
      'clean',
      'upload',
      'unpack',
      'install',
      'switch',
      'restart',
      'health-check',
      'record',
      'unlock',
    ]);
    expect(await ask(port)).toMatchObject({ greeting: 'hello from v1', release: 'v1' });

    const v2 = await releaseOf(
      'v2',
      bundle,
      appEnv(port, 'hello from v2', { SECRET_TOKEN: 'rotated' }),
    );
    const second = await deployToHost(ssh, appDeploy(host.root, v2));
    expect(second).toMatchObject({ result: 'activated', previousId: 'v1', currentId: 'v2' });
    expect(await ask(port)).toMatchObject({ greeting: 'hello from v2', release: 'v2' });

    const root = host.root;
    expect(await currentOf(root)).toBe('releases/v2');
    expect((await readdir(path.join(root, 'releases'))).sort()).toEqual(['v1', 'v2']);
    const env = await stat(path.join(root, 'releases/v2/.env'));
    expect(env.mode & 0o777).toBe(0o600);
    expect(env.uid).toBe(host.uid);
    expect(await readFile(path.join(root, 'releases/v2/.env'), 'utf8')).toBe(
      renderEnvFile(appEnv(port, 'hello from v2', { SECRET_TOKEN: 'rotated' })),
    );
    expect(await readFile(path.join(root, 'releases/v2/.release/release.json'))).toEqual(
      v2.manifestBytes,
    );
    expect(await readFile(path.join(root, 'releases/v2/.release/release.json.sig'))).toEqual(
      v2.signatureBytes,
    );
    expect(await readFile(path.join(root, 'releases/v2/server.mjs'), 'utf8')).toContain('GREETING');
    expect((await stat(path.join(root, 'releases/v2/bin/restart'))).mode & 0o111).not.toBe(0);
    for (const shared of ['run', 'log']) {
      expect(await readlink(path.join(root, 'releases/v2', shared))).toBe(`../../shared/${shared}`);
      expect(await realpath(path.join(root, 'releases/v2', shared))).toBe(
        path.join(root, 'shared', shared),
      );
    }
    expect(await readFile(path.join(root, 'shared/run/server.pid'), 'utf8')).toBe(
      `${(await ask(port)).pid}\n`,
    );
    const history = await historyOf(root);
    expect(history.map((e) => [e.event, e.release, e.from])).toEqual([
      ['activated', 'v1', undefined],
      ['activated', 'v2', 'v1'],
    ]);
    expect(history[1]).toMatchObject({
      digest: v2.digest,
      run: 'https://github.com/o/r/actions/runs/1',
      by: 'test',
    });
    expect(await exists(path.join(root, '.deploy/lock'))).toBe(false);

    const state = await readHostState(ssh, { root, log: silentLog });
    expect(state).toMatchObject({
      current: 'v2',
      previous: 'v1',
      lock: undefined,
      tar: true,
      leftovers: [],
    });
    expect(state.releases.map((r) => [r.id, r.digest, r.status])).toEqual([
      ['v1', v1.digest, 'good'],
      ['v2', v2.digest, 'good'],
    ]);
  });

  it('rolls back to a release still on the host without uploading anything', async () => {
    const sent = ssh.bytesSent;
    const started = performance.now();
    const result = await rollbackHost(ssh, {
      root: host.root,
      to: 'v1',
      healthTimeoutSeconds: 10,
      lock: { holder: 'test', waitSeconds: 0 },
      log: silentLog,
    });
    const seconds = (performance.now() - started) / 1000;
    expect(result).toMatchObject({
      result: 'rolled-back',
      currentId: 'v1',
      previousId: 'v2',
      bytesSent: 0,
    });
    expect(ssh.bytesSent).toBe(sent);
    expect(seconds).toBeLessThan(1);
    expect(await currentOf(host.root)).toBe('releases/v1');
    const history = await historyOf(host.root);
    expect(history.at(-1)).toMatchObject({ event: 'rolled-back', release: 'v1', from: 'v2' });
  });

  it('redeploys a release the host has by switching only, and restarts the app on it', async () => {
    const v2 = await releaseOf(
      'v2',
      bundle,
      appEnv(port, 'hello from v2', { SECRET_TOKEN: 'rotated' }),
    );
    const result = await deployToHost(ssh, appDeploy(host.root, v2));
    expect(result).toMatchObject({
      result: 'activated',
      skippedUpload: true,
      bytesSent: 0,
      previousId: 'v1',
    });
    expect(await ask(port)).toMatchObject({ release: 'v2' });
  });

  it('plans a deploy without changing anything', async () => {
    const before = await historyOf(host.root);
    const v3 = await releaseOf('v3', bundle, appEnv(port, 'three'));
    const plan = await dryRunHost(ssh, { root: host.root, release: v3, keep: 2, log: silentLog });
    expect(plan).toMatchObject({
      current: 'v2',
      previous: 'v1',
      upload: 'upload',
      prune: ['v1'],
      problems: [],
    });
    const again = await dryRunHost(ssh, {
      root: host.root,
      release: await releaseOf('v1', bundle, {}),
      keep: 2,
      log: silentLog,
    });
    expect(again.upload).toBe('replace');
    expect(await historyOf(host.root)).toEqual(before);
    expect(await exists(path.join(host.root, 'releases/v3'))).toBe(false);
  });

  it('destroys the deploy: stops the app and empties the root the user cannot remove itself', async () => {
    const result = await destroyHost(ssh, {
      root: host.root,
      stopCommand: 'bin/stop',
      lock: { holder: 'test', waitSeconds: 0 },
      log: silentLog,
    });
    expect(result).toEqual({ host: host.hostLine, removed: true, stopped: true });
    await expect(ask(port)).rejects.toThrow();
    // The root sits in a directory only root may write: it stays, empty.
    expect(await readdir(host.root)).toEqual([]);
  });
});
