import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localTransport } from '../../../../shared/host/local.js';
import { acquireLockScript, breakLockScript } from '../../../../shared/host/scripts/lock.js';
import { EXIT } from '../../../../shared/host/scripts/root.js';
import { HostSession } from '../../../../shared/host/session.js';
import { readHostState } from '../../../../shared/host/state.js';
import { unlockHost } from '../../../../shared/host/unlock.js';
import { silentLog } from '../../../../shared/log.js';

/*
 * Clearing a deploy lock by hand, on this machine's sh: a lock taken by a real session, left as a
 * killed deploy leaves it (its heartbeat no longer fresh), or still held.
 */

let root: string;
const transport = localTransport();
const options = { log: silentLog };

beforeEach(async () => {
  root = path.join(await mkdtemp(path.join(tmpdir(), 'brr-unlock-')), 'app');
  await mkdir(root);
});
afterEach(async () => {
  await rm(path.dirname(root), { recursive: true, force: true });
});

const lockDir = () => path.join(root, '.deploy/lock');
const present = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

/** The lock as a deploy takes it, then left: its heartbeat `age` seconds old by the host's clock. */
async function heldLock(age: number): Promise<void> {
  const session = new HostSession(transport, { root, ...options });
  const record = {
    holder: 'octocat (run 7)',
    pid: 4242,
    machine: 'runner-1',
    started: new Date().toISOString(),
  };
  const taken = await session.exec(acquireLockScript(session.root, record, 'token', 'nonce'));
  expect(taken.code).toBe(0);
  const heartbeat = Math.floor(Date.now() / 1000) - age;
  await writeFile(path.join(lockDir(), 'heartbeat'), `${heartbeat}\n`);
}

describe('unlockHost', () => {
  it('clears a dead lock, naming who held it', async () => {
    await heldLock(600);
    const result = await unlockHost(transport, { root, ...options, force: false });
    expect(result).toMatchObject({ host: 'local', outcome: 'cleared' });
    expect(result.lock).toMatchObject({ stale: true });
    expect(result.lock?.holder).toBe('octocat (run 7) on runner-1 (pid 4242)');
    expect(await present(lockDir())).toBe(false);
  });

  it('leaves a live lock unless forced', async () => {
    await heldLock(1);
    const left = await unlockHost(transport, { root, ...options, force: false });
    expect(left).toMatchObject({ outcome: 'live', lock: { stale: false } });
    expect(await present(lockDir())).toBe(true);
    const forced = await unlockHost(transport, { root, ...options, force: true });
    expect(forced).toMatchObject({ outcome: 'cleared', lock: { stale: false } });
    expect(await present(lockDir())).toBe(false);
  });

  it('says there is none when there is none', async () => {
    expect(await unlockHost(transport, { root, ...options, force: true })).toEqual({
      host: 'local',
      outcome: 'none',
      lock: undefined,
    });
  });
});

describe('breakLockScript', () => {
  it('removes the lock only while it is the one that was read', async () => {
    await heldLock(600);
    const state = await readHostState(transport, { root, ...options });
    expect(state.lock).toBeDefined();
    const info = (await readFile(path.join(lockDir(), 'info'), 'utf8')).trim();
    const session = new HostSession(transport, { root, ...options });
    // Another deploy took it meanwhile: its info is not the one read.
    const other = await session.exec(breakLockScript(session.root, `${info} `));
    expect(other.code).toBe(EXIT.lockHeld);
    expect(await present(lockDir())).toBe(true);
    const same = await session.exec(breakLockScript(session.root, info));
    expect(same.code).toBe(0);
    expect(await present(lockDir())).toBe(false);
    expect((await session.exec(breakLockScript(session.root, info))).code).toBe(0);
  });
});
