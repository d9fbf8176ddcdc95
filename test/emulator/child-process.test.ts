import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useGitHub } from './vitest.js';

const emulator = useGitHub();

describe('a step in a child process, pointed at the emulator by runnerEnv()', () => {
  it('uploads an artifact, and gets the contract violation it caused as its error', async () => {
    const github = emulator();
    const workspace = await mkdtemp(path.join(tmpdir(), 'brr-step-'));
    await writeFile(path.join(workspace, 'bundle.tar.gz'), 'bundle');
    const env = github.runnerEnv({ repository: 'acme/child' });
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(import.meta.dirname, 'fixtures/step.mjs'), 'bundle.tar.gz'],
      {
        cwd: workspace,
        env: {
          PATH: process.env.PATH,
          ...env,
          GITHUB_WORKSPACE: workspace,
          RUNNER_TEMP: workspace,
        },
      },
    );
    const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
    const result = JSON.parse(line?.slice('RESULT '.length) ?? '{}') as {
      artifactId: number;
      releaseError: { status: number; message: string };
    };
    expect(github.state.repository('acme/child').artifacts).toMatchObject([
      { id: result.artifactId, name: 'bundle.tar.gz', runId: Number(env.GITHUB_RUN_ID) },
    ]);
    expect(result.releaseError.status).toBe(422);
    expect(result.releaseError.message).toContain(
      'Invalid request to repos/create-release: body.draft must be boolean',
    );
    expect(github.violations()).toMatchObject([
      { operation: 'repos/create-release', field: 'body.draft' },
    ]);
    github.clearViolations();
  });
});
