import { readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployToHost } from './fixtures.js';
import { exists } from '../helpers/files.js';
import type { Transport } from '../../shared/host/transport.js';
import { appFiles, releaseOf, tarBuffer } from './bundles.js';
import { runChild, type ChildJob } from './deploy-child.js';
import { appDeploy, appEnv, ask, connect, freePort, historyOf } from './fixtures.js';
import { startHost, type TestHost } from './sshd.js';

/** What `current` points to must be a whole release: renamed into place with its .env and manifest. */
async function expectCompleteCurrent(root: string): Promise<string> {
  const target = await readlink(path.join(root, 'current'));
  expect(target).toMatch(/^releases\/v[0-9]+$/);
  const dir = path.join(root, target);
  expect(await readFile(path.join(dir, '.env'), 'utf8')).toMatch(
    /^GREETING='(one|release v[0-9]+)'$/m,
  );
  expect(JSON.parse(await readFile(path.join(dir, '.release/release.json'), 'utf8'))).toMatchObject(
    {
      id: path.basename(dir),
    },
  );
  expect(await exists(path.join(dir, 'server.mjs'))).toBe(true);
  return path.basename(dir);
}

describe('a deploy killed with SIGKILL at each phase', () => {
  let host: TestHost;
  let ssh: Transport;
  let port: number;
  let bundle: Buffer;
  let next = 2;

  beforeAll(async () => {
    host = await startHost();
    ssh = await connect(host);
    port = await freePort();
    bundle = await tarBuffer(await appFiles());
    await deployToHost(
      ssh,
      appDeploy(host.root, await releaseOf('v1', bundle, appEnv(port, 'one'))),
    );
  });

  afterAll(async () => {
    await ssh?.close();
    await host?.stop();
  });

  for (const phase of ['upload', 'unpack', 'install', 'switch', 'restart', 'health-check']) {
    it(`leaves current on a complete release when killed at ${phase}, and the next deploy cleans up and succeeds`, async () => {
      const id = `v${next++}`;
      const job: ChildJob = {
        host,
        root: host.root,
        id,
        env: appEnv(port, `release ${id}`),
        fillerBytes: 48 * 1024 * 1024,
        restart: 'bin/restart',
        healthCheck: 'bin/health',
        lock: { holder: `killed at ${phase}`, waitSeconds: 0, staleSeconds: 2 },
      };
      // At upload, let some of the bundle through first: the kill lands mid-stream.
      const killed = await runChild(job, phase, phase === 'upload' ? 150 : 0);
      expect(killed.signal).toBe('SIGKILL');
      expect(killed.phases).toContain(phase);
      const current = await expectCompleteCurrent(host.root);
      if (phase === 'upload') {
        // Killed mid-stream: a partial release waits in releases/<id>.tmp, never current.
        expect(await exists(path.join(host.root, `releases/${id}.tmp`))).toBe(true);
        expect(current).not.toBe(id);
      }
      if (phase === 'restart' || phase === 'health-check') expect(current).toBe(id);

      // The killed deploy's lock stays until its heartbeat is stale; the next deploy takes it over.
      expect(await exists(path.join(host.root, '.deploy/lock'))).toBe(true);
      const after = `v${next++}`;
      const result = await deployToHost(
        ssh,
        appDeploy(host.root, await releaseOf(after, bundle, appEnv(port, `release ${after}`)), {
          lock: { holder: 'next', waitSeconds: 10, staleSeconds: 2 },
        }),
      );
      expect(result.result).toBe('activated');
      expect(await expectCompleteCurrent(host.root)).toBe(after);
      const names = await readdir(path.join(host.root, 'releases'));
      expect(names.filter((name) => name.endsWith('.tmp'))).toEqual([]);
      expect((await readdir(host.root)).filter((name) => name.startsWith('current.tmp'))).toEqual(
        [],
      );
      expect(await ask(port)).toMatchObject({ release: after, greeting: `release ${after}` });
      expect(await exists(path.join(host.root, '.deploy/lock'))).toBe(false);
      // The history has whole events only: the killed deploy recorded nothing.
      const history = await historyOf(host.root);
      expect(history.some((e) => e.release === id)).toBe(false);
      expect(history.at(-1)).toMatchObject({ event: 'activated', release: after });
    });
  }

  it('at 20 random moments, is followed each time by a deploy that succeeds with nobody’s help', async () => {
    const lock = { waitSeconds: 10, staleSeconds: 2 };
    const job = (id: string): ChildJob => ({
      host,
      root: host.root,
      id,
      env: appEnv(port, `release ${id}`),
      fillerBytes: 4 * 1024 * 1024,
      restart: 'bin/restart',
      healthCheck: 'bin/health',
      lock: { holder: `child ${id}`, ...lock },
    });
    // Where a whole deploy spends its time: timed on a deploy built from the one before, as the
    // victims are (a first deploy sends everything). Each kill falls at a random moment inside
    // one of its phases, taken in turn, so the kills land all along the deploy even where a few
    // phases take most of its time.
    const first = await runChild(job(`v${next++}`), 'lock', 60_000);
    expect(first.result, first.error).toMatchObject({ result: 'activated' });
    const whole = await runChild(job(`v${next++}`), 'lock', 60_000);
    expect(whole.result, whole.error).toMatchObject({ result: 'activated' });
    const phases = whole.phases.map((phase, i) => ({
      phase,
      ms: (whole.startedAt[i + 1] ?? whole.endedAt!) - whole.startedAt[i]!,
    }));
    expect(phases.length).toBeGreaterThanOrEqual(4);
    const killedIn = new Set<string>();
    for (let round = 0; round < 20; round++) {
      const victim = `v${next++}`;
      const { phase, ms } = phases[round % phases.length]!;
      const killed = await runChild(job(victim), phase, Math.random() * ms);
      if (killed.signal === 'SIGKILL') killedIn.add(killed.phases.at(-1) ?? 'start');
      expect(await expectCompleteCurrent(host.root)).toMatch(/^v[0-9]+$/);
      const after = `v${next++}`;
      const result = await deployToHost(
        ssh,
        appDeploy(host.root, await releaseOf(after, bundle, appEnv(port, `release ${after}`)), {
          lock: { holder: 'next', ...lock },
        }),
      );
      expect(result.result, `after a kill in ${killed.phases.at(-1)}`).toBe('activated');
      expect(await expectCompleteCurrent(host.root)).toBe(after);
      expect(await ask(port)).toMatchObject({ release: after });
      expect(await exists(path.join(host.root, '.deploy/lock'))).toBe(false);
      const names = await readdir(path.join(host.root, 'releases'));
      expect(names.filter((name) => name.endsWith('.tmp'))).toEqual([]);
    }
    // The kills landed all along the deploy, not only before or after it.
    expect(killedIn.size).toBeGreaterThanOrEqual(6);
  }, 600_000);
});
