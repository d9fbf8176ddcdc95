import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planTransfer, type ScriptHost } from '../../../../shared/host/delta-transfer.js';
import { localTransport } from '../../../../shared/host/local.js';
import { payloadOf } from '../../../helpers/payload.js';
import { tempDir } from '../bundle-helpers.js';
import { app, bundleOf, transfer } from './delta-helpers.js';

/*
 * How the runner plans a delta from each host's check of its base: the report read as the host
 * writes it, and what hosts with the same base share. The hosts are real (the local transport,
 * real sh and files); what a test changes is what the runner keeps of a script's output once the
 * script has ended, to show what was read as it came.
 */

const tools = { decompressor: 'zstd', hash: 'sha256sum', stamps: true } as const;

/** A deploy root holding v1 of `spec`, made as a deploy makes it. */
async function hostWith(spec = app): Promise<string> {
  const root = path.join(await tempDir(), 'deploy');
  await transfer({ root, id: 'v1', bundle: await bundleOf(spec), replace: true });
  return root;
}

/**
 * The local transport, its scripts' output seen as it came (`onStdout`) but, with `forget`, not
 * kept once they end: what the runner plans from must then have been read as it arrived.
 */
function hostOf(forget: boolean): ScriptHost {
  const transport = localTransport();
  return {
    async exec(script, options) {
      const result = await transport.exec(script, options);
      return forget ? { ...result, stdout: Buffer.alloc(0) } : result;
    },
    must: () => Promise.reject(new Error('not used')),
  };
}

const v2 = { ...app, 'app.js': 'console.log("v2")\n' };

describe('planning a delta', () => {
  it("reads a host's report as it comes: the plan does not wait for the output kept", async () => {
    const root = await hostWith();
    const next = (await payloadOf(await bundleOf(v2), 'zstd')).index;
    const planned = await planTransfer(hostOf(true), { root, base: 'v1', tools, next });
    expect(planned.base).toBe('v1');
    expect([...planned.plan.carry].sort()).toEqual([
      'bin/start',
      'docs/readme',
      'lib/big.bin',
      'lib/util.js',
    ]);
  });

  it('diffs a base index once for the hosts that report it, and plans once per files found as shipped', async () => {
    const roots = [await hostWith(), await hostWith(), await hostWith()];
    const next = (await payloadOf(await bundleOf(v2), 'zstd')).index;
    // One host has a file not as shipped: its own plan, from the same diff.
    await writeFile(path.join(roots[2] ?? '', 'releases/v1/lib/util.js'), 'edited\n');
    const [first, second, third] = await Promise.all(
      roots.map((root, at) =>
        // The second host's output is not kept: it is planned from the first one's diff.
        planTransfer(hostOf(at === 1), { root, base: 'v1', tools, next }),
      ),
    );
    expect(second?.plan).toBe(first?.plan);
    expect(third?.plan).not.toBe(first?.plan);
    expect([...(third?.plan.carry ?? [])].sort()).toEqual([
      'bin/start',
      'docs/readme',
      'lib/big.bin',
    ]);
  });

  it('reads the report of a host whose base index is another again, from its output', async () => {
    const next = (await payloadOf(await bundleOf(v2), 'zstd')).index;
    await planTransfer(hostOf(false), { root: await hostWith(), base: 'v1', tools, next });
    // Another v1: its index is not the one diffed as it came.
    const other = await hostWith({ ...app, 'docs/readme': 'read me again\n' });
    const planned = await planTransfer(hostOf(false), { root: other, base: 'v1', tools, next });
    expect([...planned.plan.carry].sort()).toEqual(['bin/start', 'lib/big.bin', 'lib/util.js']);
    // Without that output, nothing to diff: everything travels.
    const again = await hostWith({ ...app, 'docs/readme': 'read me once more\n' });
    const full = await planTransfer(hostOf(true), { root: again, base: 'v1', tools, next });
    expect(full.base).toBeUndefined();
    expect(full.plan.sendEntries).toBe(next.length);
  });
});
