import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployToHost } from './fixtures.js';
import type { Transport } from '../../shared/host/transport.js';
import { silentLog } from '../../shared/log.js';
import { releaseOf, tarBuffer } from './bundles.js';
import { connect, currentOf } from './fixtures.js';
import { startHost, type TestHost } from './sshd.js';

describe('pruning on a real host', () => {
  let host: TestHost;
  let ssh: Transport;
  let bundle: Buffer;

  beforeAll(async () => {
    host = await startHost();
    ssh = await connect(host);
    bundle = await tarBuffer([{ name: 'index.html', content: 'hi' }]);
  });
  afterAll(async () => {
    await ssh?.close();
    await host?.stop();
  });

  const deploy = async (id: string, keep: number, healthy = true) =>
    deployToHost(ssh, {
      root: host.root,
      release: await releaseOf(id, bundle, { GREETING: id }),
      healthCheck: healthy ? 'true' : 'echo down; exit 1',
      healthTimeoutSeconds: 1,
      healthIntervalSeconds: 0.2,
      keep,
      sharedPaths: [],
      lock: { holder: 'test', waitSeconds: 0 },
      log: silentLog,
    });
  const releases = async () => (await readdir(path.join(host.root, 'releases'))).sort();

  it('deletes nothing while under keep, then the oldest, never current or the previous good one', async () => {
    for (const id of ['v1', 'v2', 'v3']) expect((await deploy(id, 5)).pruned).toEqual([]);
    expect(await releases()).toEqual(['v1', 'v2', 'v3']);

    expect((await deploy('v4', 2)).pruned.sort()).toEqual(['v1', 'v2']);
    expect(await releases()).toEqual(['v3', 'v4']);
  });

  it('lets failed releases use up no slot, and drops them once older than what is kept', async () => {
    const failed = await deploy('v5', 2, false);
    expect(failed).toMatchObject({ result: 'failed-rolled-back', currentId: 'v4', pruned: [] });
    // v4 current, v3 the previous good one, v5 failed: three on disk with keep 2.
    expect(await releases()).toEqual(['v3', 'v4', 'v5']);

    const next = await deploy('v6', 2);
    expect(next.pruned.sort()).toEqual(['v3', 'v5']);
    expect(await releases()).toEqual(['v4', 'v6']);
    expect(await currentOf(host.root)).toBe('releases/v6');
  });
});
