import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { formatError } from '../../shared/errors.js';
import { stageDeploy } from '../../shared/host/deploy.js';
import { deployToHost } from './fixtures.js';
import { exists } from '../helpers/files.js';
import { stageRollback } from '../../shared/host/rollback.js';
import { readHostState } from '../../shared/host/state.js';
import type { Transport } from '../../shared/host/transport.js';
import { silentLog } from '../../shared/log.js';
import { appFiles, releaseOf, tarBuffer } from './bundles.js';
import { appDeploy, appEnv, connect, currentOf, historyOf } from './fixtures.js';
import { startHost, type TestHost } from './sshd.js';

/*
 * A deploy's two halves on a real SSH host: staged (locked, the release unpacked, nothing
 * switched) and then switched, with the release command run in between.
 */
describe('a staged host', () => {
  let host: TestHost;
  let ssh: Transport;
  let other: Transport;
  let bundle: (schema: string) => Promise<Buffer>;

  beforeAll(async () => {
    host = await startHost();
    [ssh, other] = await Promise.all([connect(host), connect(host)]);
    bundle = async (schema) =>
      tarBuffer(await appFiles([{ name: 'schema-version', content: `${schema}\n` }]));
  });

  afterAll(async () => {
    await ssh?.close();
    await other?.close();
    await host?.stop();
  });

  /** The sample app's files with no restart: only the release command and the switch matter. */
  const options = async (id: string, schema: Buffer) => ({
    ...appDeploy(host.root, await releaseOf(id, schema, appEnv(1, `hello from ${id}`))),
    restart: undefined,
    healthCheck: undefined,
    sharedPaths: ['db'],
    lock: { holder: `deploy of ${id}`, waitSeconds: 0, staleSeconds: 2 },
  });

  it('holds its lock, beating, until switched; the release command runs in the new release first', async () => {
    await deployToHost(ssh, await options('v1', await bundle('1')));
    const staged = await stageDeploy(ssh, await options('v2', await bundle('2')));
    onTestFailed(() => staged.abandon());
    expect(staged).toMatchObject({ releaseId: 'v2', current: 'v1', wasCurrent: false });
    // Longer than the lock's stale age: only a heartbeat keeps it fresh.
    await sleep(3000);
    const state = await readHostState(other, { root: host.root, log: silentLog, staleSeconds: 2 });
    expect(state.lock?.holder).toMatch(/^deploy of v2/);
    expect(state.lock?.stale).toBe(false);
    expect(state.lock?.heartbeatAgeSeconds).toBeLessThanOrEqual(1);
    const refused = await deployToHost(other, await options('v3', await bundle('3'))).catch(
      (error: unknown) => formatError(error),
    );
    expect(refused).toMatch(new RegExp(`^host ${host.hostLine}: deploy lock held by deploy of v2`));

    const run = await staged.runCommand(
      'bin/migrate && echo "greeting: $GREETING" && echo "current: $(readlink ../../current)" && pwd -P',
      30,
    );
    expect(run).toMatchObject({ ok: true, code: 0, timedOut: false });
    expect(run.output.split('\n')).toEqual([
      'schema 0 -> 2',
      'greeting: hello from v2',
      'current: releases/v1',
      path.join(await realpath(host.root), 'releases/v2'),
    ]);
    expect(await currentOf(host.root)).toBe('releases/v1');

    const result = await staged.activate();
    expect(result).toMatchObject({ result: 'activated', previousId: 'v1', currentId: 'v2' });
    expect(await currentOf(host.root)).toBe('releases/v2');
    expect(await exists(path.join(host.root, '.deploy/lock'))).toBe(false);
    expect(await readFile(path.join(host.root, 'shared/db/schema-version'), 'utf8')).toBe('2\n');
  });

  it('let go after a failed release command: the history says so, current stays, the lock goes', async () => {
    const staged = await stageDeploy(ssh, await options('v3', await bundle('3')));
    const run = await staged.runCommand('echo "migrating"; echo "no such table" >&2; exit 3', 30);
    expect(run).toMatchObject({ ok: false, code: 3, output: 'migrating\nno such table' });
    await staged.abandon('release command failed (exit 3) on the first host');
    expect(await currentOf(host.root)).toBe('releases/v2');
    expect(await exists(path.join(host.root, '.deploy/lock'))).toBe(false);
    expect(await exists(path.join(host.root, 'releases/v3'))).toBe(true);
    expect((await historyOf(host.root)).at(-1)).toMatchObject({
      event: 'release-command-failed',
      release: 'v3',
      reason: 'release command failed (exit 3) on the first host',
      by: 'deploy of v3',
    });
    // v3 never became current: `previous` stays the release before v2.
    const state = await readHostState(other, { root: host.root, log: silentLog });
    expect(state.previous).toBe('v1');
    expect(state.releases.find((r) => r.id === 'v3')?.status).toBe('failed');
  });

  it('stops a release command that runs past its timeout', async () => {
    const staged = await stageDeploy(ssh, await options('v3', await bundle('3')));
    onTestFailed(() => staged.abandon());
    const started = Date.now();
    const run = await staged.runCommand('echo started; sleep 30', 1);
    expect(run).toMatchObject({ ok: false, code: null, timedOut: true });
    expect(run.output).toMatch(/^started\b/);
    expect(Date.now() - started).toBeLessThan(5000);
    await staged.abandon();
    expect(await exists(path.join(host.root, '.deploy/lock'))).toBe(false);
    expect((await historyOf(host.root)).at(-1)?.event).toBe('release-command-failed');
  });

  it('knows a return to a release that was current before', async () => {
    const staged = await stageRollback(ssh, {
      ...(await options('v1', await bundle('1'))),
      to: 'v1',
    });
    expect(staged).toMatchObject({ releaseId: 'v1', current: 'v2', wasCurrent: true });
    await staged.abandon();
    expect(await currentOf(host.root)).toBe('releases/v2');
  });
});
