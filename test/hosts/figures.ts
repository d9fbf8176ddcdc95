/*
 * Measures deploys to one real SSH host on this machine:
 *   node_modules/.bin/tsx test/hosts/figures.ts
 * - deploy time of a ~100 MB bundle (upload over SSH, unpack, switch);
 * - rollback time onto a release still on the host, for 1 MB and 1 GB bundles (should be flat).
 */
import { execFileSync } from 'node:child_process';
import { deployToHost } from './fixtures.js';
import { rollbackHost } from '../../shared/host/rollback.js';
import type { HostRelease } from '../../shared/host/transfer.js';
import type { Transport } from '../../shared/host/transport.js';
import { silentLog } from '../../shared/log.js';
import { releaseOf, sizedBundle } from './bundles.js';
import { connect } from './fixtures.js';
import { startHost } from './sshd.js';

const MB = 1024 * 1024;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function deploy(ssh: Transport, root: string, release: HostRelease) {
  const started = performance.now();
  const result = await deployToHost(ssh, {
    root,
    release,
    healthTimeoutSeconds: 10,
    keep: 10,
    sharedPaths: [],
    lock: { holder: 'figures', waitSeconds: 0 },
    log: silentLog,
  });
  return { seconds: (performance.now() - started) / 1000, result };
}

async function rollback(ssh: Transport, root: string, to: string) {
  const started = performance.now();
  const result = await rollbackHost(ssh, {
    root,
    to,
    healthTimeoutSeconds: 10,
    lock: { holder: 'figures', waitSeconds: 0 },
    log: silentLog,
  });
  if (result.bytesSent !== 0) throw new Error('a rollback uploaded something');
  return (performance.now() - started) / 1000;
}

const host = await startHost();
const ssh = await connect(host);
try {
  const hundred = await deploy(
    ssh,
    host.root,
    await releaseOf('v100mb', sizedBundle(100 * MB, 'a'), {}),
  );
  const mbps = 100 / hundred.seconds;
  console.log(
    `deploy of a 100 MiB bundle over SSH: ${hundred.seconds.toFixed(2)} s (${mbps.toFixed(0)} MiB/s, ${hundred.result.bytesSent} bytes sent)`,
  );

  for (const [label, bytes] of [
    ['1 MiB', MB],
    ['1 GiB', 1024 * MB],
  ] as const) {
    const id = `v${label.replace(' ', '').toLowerCase()}`;
    const big = await deploy(ssh, host.root, await releaseOf(id, sizedBundle(bytes, id), {}));
    console.log(`deploy of a ${label} bundle over SSH: ${big.seconds.toFixed(2)} s`);
    await deploy(ssh, host.root, await releaseOf(`${id}-next`, sizedBundle(1024, 'next'), {}));
    // Let the kernel write the bundle out first, so the switches are not timed against writeback.
    execFileSync('sync');
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      times.push(await rollback(ssh, host.root, id));
      times.push(await rollback(ssh, host.root, `${id}-next`));
    }
    console.log(
      `rollback onto a ${label} release on the host: median ${(median(times) * 1000).toFixed(0)} ms, max ${(Math.max(...times) * 1000).toFixed(0)} ms, 0 bytes sent (${times.length} switches)`,
    );
  }
} finally {
  await ssh.close();
  await host.stop();
}
