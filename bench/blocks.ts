// `npm run bench -- blocks`: the incremental transfer's building blocks (shared/host/delta-*.ts)
// over ssh2 (the product's SSH transport) on the deploy bench's app and host, v1 then v2 with one
// file changed, against the same baselines: what run-action can reach once they are wired in.
import { join } from 'node:path';
import { indexBundle } from '../shared/bundle/file-index.js';
import {
  findHostTools,
  receiveRelease,
  writeReleaseIndex,
  type ScriptHost,
} from '../shared/host/delta-transfer.js';
import { connectSsh } from '../shared/host/ssh.js';
import type { Transport } from '../shared/host/transport.js';
import { shellQuote } from '../shared/names.js';
import { checkBaseScript } from '../shared/host/scripts/delta.js';
import { baselines, header, mib, row, secs, setUp, tearDown, theirs, times } from './deploy.js';
import { diskKiB, packVersions } from './deploy-steps.js';
import { onWire, type ProxiedHost } from './wire.js';

function scriptHost(transport: Transport): ScriptHost {
  return {
    exec: (script, options) => transport.exec(script, options),
    async must(what, script, options) {
      const result = await transport.exec(script, options);
      if (result.code !== 0) throw new Error(`${what}: ${result.stderr.toString()}`);
      return result;
    },
  };
}

export async function blocksBench(): Promise<void> {
  const world = await setUp(1, 1);
  try {
    const target = world.targets[0] as ProxiedHost;
    const bundles = await packVersions(world.trees);
    const [port] = target.hostLine.split(':').slice(-1);
    const transport = await connectSsh({
      target: { user: target.host.user, host: '127.0.0.1', port: Number(port), label: 'bench' },
      privateKey: target.host.privateKey,
      knownHosts: target.knownHosts,
    });
    const host = scriptHost(transport);
    const root = 'blocks';
    const tools = await findHostTools(host);
    console.log(
      `host tools: ${tools.decompressor ?? 'no decompressor'}, ${tools.hash ?? 'no hash tool'}`,
    );
    header();
    const results = [];
    let base: string | undefined;
    for (const [at, bundle] of bundles.entries()) {
      const id = `v${at + 1}`;
      const started = performance.now();
      const next = await indexBundle(bundle.file, { compression: 'zstd' });
      const indexSeconds = (performance.now() - started) / 1000;
      if (base !== undefined && tools.hash !== undefined) {
        // The check alone, as receiveRelease runs it first: what the host spends on hashing.
        const hash = tools.hash;
        const checked = await onWire(target, () =>
          host.must('checking', checkBaseScript(root, base ?? '', { ...tools, hash }, 'n')),
        );
        row(`${id}: checking ${base} against its index, alone`, {
          host: checked.seconds,
          ...checked,
        });
      }
      let carried = 0;
      const figures = await onWire(target, async () => {
        const common = { root, id, next, tools };
        const received = await receiveRelease(host, {
          ...common,
          bundle: bundle.file,
          compression: 'zstd',
          expectedDigest: bundle.digest,
          base,
        });
        carried = received.plan.carry.size;
        await writeReleaseIndex(host, { ...common, ...received });
        await host.must('renaming', `cd ${shellQuote(root)}/releases && mv ${id}.tmp ${id}`);
      });
      row(`${id}: ${carried} files linked (index pass ${secs(indexSeconds)})`, {
        host: figures.seconds,
        ...figures,
      });
      results.push(figures);
      base = id;
    }
    await transport.close();
    const releases = join(target.host.root, root, 'releases');
    const [v1KiB = 0, v2KiB = 0] = diskKiB([join(releases, 'v1'), join(releases, 'v2')]);
    console.log(
      `disk: v1 ${mib(v1KiB * 1024)}, v2 ${mib(v2KiB * 1024)} more (${((100 * v2KiB) / v1KiB).toFixed(1)}%)`,
    );
    const base2 = await baselines(target, world.trees, 'openssh');
    theirs('tar | zstd -T0 | ssh | zstd -d | tar -x', base2.zstd);
    theirs('rsync -a (into v1, in place)', base2.inPlace);
    theirs('rsync -a --link-dest=../v1 (a new directory)', base2.linkDest);
    const [v1, v2] = results;
    if (v1 && v2) {
      console.log(
        `  v1 time / OpenSSH zstd: ${times(v1.seconds / base2.zstd.seconds)} (target <= 1.30x)`,
      );
      console.log(
        `  v2 bytes sent / rsync -a: ${times(v2.up / base2.inPlace.up)} (target <= 2x); received ${times(v2.down / Math.max(1, base2.inPlace.down))}`,
      );
      console.log(
        `  v2 time ${secs(v2.seconds)} against 2 x rsync + 1 s = ${secs(2 * base2.inPlace.seconds + 1)}`,
      );
    }
  } finally {
    await tearDown(world);
  }
}
