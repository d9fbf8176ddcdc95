// `npm run bench -- build`: build-action end to end on the ~1 GiB bench tree against the local
// GitHub emulator, as the runner runs it: a first build (command, pack + hash, upload, cache save)
// and a second build of the same commit in a later run (cache restore instead of packing).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGitHub } from '../test/emulator/index.js';
import { runAction } from '../test/helpers/action.js';
import { ensureTree, TREES } from './tree.js';

const work = join(import.meta.dirname, '.work');

function phases(summary: string): string {
  return /\| Time \| (.*?) \|/.exec(summary)?.[1] ?? '(no timings in the summary)';
}

export async function buildBench(): Promise<void> {
  const tree = await ensureTree(work, TREES.large);
  const github = await startGitHub();
  const home = await mkdtemp(join(tmpdir(), 'brr-bench-home-'));
  try {
    for (const [label, runId] of [
      ['first build (miss)', 9001],
      ['same commit, later run (hit)', 9002],
    ] as const) {
      const started = Date.now();
      const run = await runAction({
        action: 'build-action',
        workspace: tree,
        inputs: { app: 'bench', path: '.' },
        env: {
          ...github.runnerEnv({ repository: 'acme/bench', runId }),
          SOURCE_DATE_EPOCH: '1700000000',
          HOME: home,
        },
        timeoutMs: 30 * 60_000,
      });
      if (run.code !== 0) throw new Error(`build failed: ${run.errors.join('; ')}`);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const mib = (Number(run.outputs.size) / 2 ** 20).toFixed(0);
      console.log(
        `${label}: ${seconds} s for the whole step; ${run.outputs.files} files, bundle ${mib} MiB, cache-hit ${run.outputs['cache-hit']}`,
      );
      console.log(`  ${phases(run.summary)}`);
    }
  } finally {
    await github.stop();
    await rm(home, { recursive: true, force: true });
  }
}
