import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../shared/errors.js';
import { deployToHost } from './fixtures.js';
import { exists } from '../helpers/files.js';
import { destroyHost } from '../../shared/host/destroy.js';
import { readHostState } from '../../shared/host/state.js';
import { rollbackHost } from '../../shared/host/rollback.js';
import { localTransport } from '../../shared/host/local.js';
import { silentLog } from '../../shared/log.js';
import { appFiles, releaseOf, tarBuffer } from './bundles.js';
import { appDeploy, appEnv, ask, currentOf, freePort } from './fixtures.js';
import { endProcessesUnder, startHost } from './sshd.js';

describe('the local transport: this machine as the host', () => {
  let dir: string;
  let root: string;
  let port: number;
  let bundle: Buffer;
  const local = localTransport();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'brr-local-'));
    root = path.join(dir, 'app');
    port = await freePort();
    bundle = await tarBuffer(await appFiles());
  });
  afterAll(async () => {
    await endProcessesUnder(dir);
    await rm(dir, { recursive: true, force: true });
  });

  it('makes a release from the one before as over SSH: what changed travels, compressed', async () => {
    const other = path.join(dir, 'delta');
    const big = randomBytes(1024 * 1024);
    const tar = (version: string) =>
      appFiles([
        { name: 'lib/big.bin', content: big },
        { name: 'VERSION', content: version },
      ]).then(tarBuffer);
    const deploy = async (id: string) =>
      deployToHost(local, {
        ...appDeploy(other, await releaseOf(id, await tar(id), {})),
        restart: undefined,
        healthCheck: undefined,
      });
    const first = await deploy('v1');
    const second = await deploy('v2');
    expect(first.bytesSent).toBeGreaterThan(1024 * 1024);
    expect(second.bytesSent).toBeLessThan(first.bytesSent / 20);
    const inode = async (id: string, name: string) =>
      (await stat(path.join(other, 'releases', id, name))).ino;
    expect(await inode('v2', 'lib/big.bin')).toBe(await inode('v1', 'lib/big.bin'));
    expect(await inode('v2', 'VERSION')).not.toBe(await inode('v1', 'VERSION'));
    expect(await readFile(path.join(other, 'releases/v2/VERSION'), 'utf8')).toBe('v2');
    expect(await readdir(path.join(other, 'releases/v2/.release'))).toContain('index.zst');
  });

  it('deploys, rolls back without uploading, and reads the state back', async () => {
    const first = await deployToHost(
      local,
      appDeploy(root, await releaseOf('v1', bundle, appEnv(port, 'one'))),
    );
    expect(first).toMatchObject({ host: 'local', result: 'activated' });
    await deployToHost(local, appDeploy(root, await releaseOf('v2', bundle, appEnv(port, 'two'))));
    expect(await ask(port)).toMatchObject({ greeting: 'two', release: 'v2' });

    const state = await readHostState(local, { root, log: silentLog });
    expect(state).toMatchObject({ host: 'local', current: 'v2', previous: 'v1' });

    const sent = local.bytesSent;
    const back = await rollbackHost(local, {
      root,
      to: state.previous ?? '',
      restart: 'bin/restart',
      healthCheck: 'bin/health',
      healthTimeoutSeconds: 10,
      healthIntervalSeconds: 0.2,
      lock: { holder: 'test', waitSeconds: 0 },
      log: silentLog,
    });
    expect(back).toMatchObject({ result: 'rolled-back', currentId: 'v1', bytesSent: 0 });
    expect(local.bytesSent).toBe(sent);
    expect(await ask(port)).toMatchObject({ greeting: 'one', release: 'v1' });
  });

  it('refuses to roll back to a release no longer on the host', async () => {
    const error = await rollbackHost(local, {
      root,
      to: 'v9',
      healthTimeoutSeconds: 1,
      lock: { holder: 'test', waitSeconds: 0 },
      log: silentLog,
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error?.message).toBe(
      'host local: release v9 is no longer on the host (releases there: v1, v2); deploy it instead',
    );
    expect(await currentOf(root)).toBe('releases/v1');
  });

  it('stops a command that outlives its time, and returns when a daemon keeps its output open', async () => {
    const started = performance.now();
    const aborted = await local.exec('sleep 30', { signal: AbortSignal.timeout(200) });
    expect(aborted).toMatchObject({ code: null, signal: 'KILL' });
    expect(performance.now() - started).toBeLessThan(2000);

    const daemon = await localTransport({ closeGraceSeconds: 0.2 }).exec('sleep 30 & echo $!');
    expect(daemon).toMatchObject({ code: 0 });
    const pid = Number(daemon.stdout.toString());
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
  });

  it('destroys a deploy: stops the app, removes the root, and refuses a directory that is not one', async () => {
    const result = await destroyHost(local, {
      root,
      stopCommand: 'bin/stop',
      lock: { holder: 'test', waitSeconds: 0 },
      log: silentLog,
    });
    expect(result).toEqual({ host: 'local', removed: true, stopped: true });
    expect(await exists(root)).toBe(false);
    await expect(ask(port)).rejects.toThrow();
    const again = await destroyHost(local, {
      root,
      lock: { holder: 'test', waitSeconds: 0 },
      log: silentLog,
    });
    expect(again.removed).toBe(false);

    const precious = path.join(dir, 'precious');
    await mkdir(precious);
    await writeFile(path.join(precious, 'data'), 'keep me');
    const error = await destroyHost(local, {
      root: precious,
      lock: { holder: 'test', waitSeconds: 0 },
      log: silentLog,
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/does not look like a deploy root/);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(await readdir(precious)).toEqual(['data']);
  });

  it('reports a full disk as over SSH, and switches nothing', async () => {
    const host = await startHost({ diskBytes: 2 * 1024 * 1024 });
    try {
      const big = await tarBuffer([{ name: 'big.bin', content: Buffer.alloc(4 * 1024 * 1024, 1) }]);
      const error = await deployToHost(local, {
        ...appDeploy(host.root, await releaseOf('v1', big, {})),
        restart: undefined,
        healthCheck: undefined,
      }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error?.message).toBe(
        `host local: no space left on device under ${host.root} while unpacking v1`,
      );
      expect(await currentOf(host.root)).toBeUndefined();
      expect(await readdir(path.join(host.root, 'releases'))).toEqual([]);
    } finally {
      await host.stop();
    }
  });

  it('replaces a release dir holding another release of the same ID, unless it is current', async () => {
    const other = path.join(dir, 'replace');
    const deploy = (id: string, content: string) =>
      tarBuffer([{ name: 'index.html', content }]).then(async (tar) =>
        deployToHost(local, {
          ...appDeploy(other, await releaseOf(id, tar, { WHICH: content })),
          restart: undefined,
          healthCheck: undefined,
        }),
      );
    await deploy('v1', 'first v1');
    await deploy('v2', 'v2');
    const replaced = await deploy('v1', 'second v1');
    expect(replaced).toMatchObject({ result: 'activated', skippedUpload: false });
    expect(await readFile(path.join(other, 'releases/v1/index.html'), 'utf8')).toBe('second v1');

    const error = await deploy('v1', 'third v1').then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toBe(
      'host local: releases/v1 is current but holds a different release.json than release v1; releases never change: deploy a new release ID',
    );
    expect(await readFile(path.join(other, 'releases/v1/index.html'), 'utf8')).toBe('second v1');
  });
});
