// `npm run bench -- blocks [--large]`: the transfer's steps alone over ssh2 (the product's SSH
// transport) on the deploy bench's app and host: v1 in full, then v2 with one file changed
// built from v1, with the time of each phase; and the check of v1 against its index, by hashing
// every file and with stamps.
import { join } from 'node:path';
import { HostSession } from '../shared/host/session.js';
import { connectSsh } from '../shared/host/ssh.js';
import { transferRelease } from '../shared/host/transfer.js';
import { checkBaseScript } from '../shared/host/scripts/delta.js';
import { silentLog } from '../shared/log.js';
import { payloadOf } from '../test/helpers/payload.js';
import { baselines, header, mib, row, setUp, tearDown, theirs, times } from './deploy.js';
import { diskKiB, packVersions } from './deploy-steps.js';
import { onWire, type ProxiedHost } from './wire.js';

export async function blocksBench(args: string[]): Promise<void> {
  const world = await setUp(args.includes('--large') ? 7 : 1, 1);
  try {
    const target = world.targets[0] as ProxiedHost;
    const bundles = await packVersions(world.trees);
    const [port] = target.hostLine.split(':').slice(-1);
    const transport = await connectSsh({
      target: { user: target.host.user, host: '127.0.0.1', port: Number(port), label: 'bench' },
      privateKey: target.host.privateKey,
      knownHosts: target.knownHosts,
    });
    const root = 'blocks';
    const phases: [string, number][] = [];
    const onPhase = (phase: string) => phases.push([phase, performance.now()]);
    const session = new HostSession(transport, { root, log: silentLog, onPhase });
    const { tools } = await session.inspect();
    console.log(
      `host tools: ${tools.decompressor ?? 'no decompressor'}, ${tools.hash ?? 'no hash tool'}, ${tools.stamps ? 'stamps' : 'no stamps'}`,
    );
    header();
    const results = [];
    let base: string | undefined;
    for (const [at, bundle] of bundles.entries()) {
      const id = `v${at + 1}`;
      const started = performance.now();
      const payload = await payloadOf(bundle.file, 'zstd');
      const indexSeconds = (performance.now() - started) / 1000;
      if (base !== undefined && tools.hash !== undefined) {
        for (const stamps of [false, true]) {
          const script = checkBaseScript(root, base, { ...tools, hash: tools.hash, stamps }, 'n');
          const checked = await onWire(target, () => session.must('checking', script));
          row(`${id}: check of ${base}, ${stamps ? 'with stamps' : 'hashing all'}`, {
            host: checked.seconds,
            ...checked,
          });
        }
      }
      const manifest = Buffer.from(JSON.stringify({ id }));
      const release = {
        id,
        digest: bundle.digest,
        manifestBytes: manifest,
        signatureBytes: manifest,
        env: {},
        payload,
      };
      const options = { release, envFile: '', sharedPaths: [], replace: false, tools, base };
      phases.length = 0;
      const figures = await onWire(target, async () => {
        await transferRelease(session, options);
        onPhase('done');
      });
      row(`${id}: transfer (recording it: ${indexSeconds.toFixed(2)} s)`, {
        host: figures.seconds,
        ...figures,
      });
      const steps = phases.slice(0, -1).map(([phase, at], i) => {
        const next = phases[i + 1]?.[1] ?? at;
        return `${phase} ${((next - at) / 1000).toFixed(2)} s`;
      });
      console.log(`    ${steps.join(', ')}`);
      results.push(figures);
      base = id;
    }
    await transport.close();
    const releases = join(target.host.root, root, 'releases');
    const [v1KiB = 0, v2KiB = 0] = diskKiB([join(releases, 'v1'), join(releases, 'v2')]);
    console.log(
      `disk: v1 ${mib(v1KiB * 1024)}, v2 ${mib(v2KiB * 1024)} more (${((100 * v2KiB) / v1KiB).toFixed(1)}%)`,
    );
    const them = await baselines(target, world.trees, 'openssh');
    theirs('tar | zstd -T0 | ssh | zstd -d | tar -x', them.zstd);
    theirs('rsync -a (into v1, in place)', them.inPlace);
    const [v1, v2] = results;
    if (v1 && v2) {
      console.log(`  v1 transfer / OpenSSH zstd: ${times(v1.seconds / them.zstd.seconds)}`);
      console.log(`  v2 transfer bytes sent / rsync -a: ${times(v2.up / them.inPlace.up)}`);
    }
  } finally {
    await tearDown(world);
  }
}
