import { readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useGitHub } from '../emulator/vitest.js';
import { runAction, uniqueName, type ActionRun } from '../helpers/action.js';
import { ageKey, sshKey, type AgeKey, type SshKey } from '../helpers/keys.js';
import { appTree } from '../helpers/releases.js';
import { maskCommand, shownLog } from './release-helpers.js';
import { ask, freePort } from '../hosts/fixtures.js';
import { endProcessesUnder, startHost, type TestHost } from '../hosts/sshd.js';

const emulator = useGitHub();

let host: TestHost;
let signer: SshKey;
let age: AgeKey;
let allowedSigners: string;

beforeAll(async () => {
  [host, signer, age] = await Promise.all([startHost(), sshKey(), ageKey()]);
  allowedSigners = await readFile(signer.allowedSignersFile, 'utf8');
});

afterAll(async () => {
  if (host) await endProcessesUnder(host.root);
  await host?.stop();
});

describe('ship: build, release and run in one step', () => {
  it('builds the commit, releases it, deploys it over SSH, then ships a config change as v2', async () => {
    const github = emulator();
    const repository = `acme/${uniqueName('shop')}`;
    github.createRepository(repository);
    const port = await freePort();
    const deployPath = path.join(host.root, 'shop');
    const workspace = await appTree();
    const home = path.join(host.dir, 'runner-home');
    const ship = (greeting: string, runId: number): Promise<ActionRun> =>
      runAction({
        action: '.',
        workspace,
        env: {
          ...github.runnerEnv({ repository, runId }),
          SOURCE_DATE_EPOCH: '1700000000',
          HOME: home,
        },
        inputs: {
          app: 'shop',
          path: '.',
          command: 'echo "compiling"',
          environment: 'staging',
          vars: JSON.stringify({ GREETING: greeting, PORT: String(port), NODE: process.execPath }),
          secrets: JSON.stringify({ API_TOKEN: 'tok-3c1e9b0d' }),
          'signing-key': signer.privateKey,
          recipients: age.recipient,
          hosts: host.hostLine,
          'deploy-path': deployPath,
          'ssh-key': host.privateKey,
          'known-hosts': host.knownHosts,
          'allowed-signers': allowedSigners,
          identity: age.identity,
          restart: 'bin/restart',
          'health-check': 'bin/health',
          'health-timeout': '20',
          'shared-paths': 'run\nlog\ndb',
          'release-command': 'bin/migrate',
        },
      });

    const first = await ship('Hello from v1', 5001);
    expect(first.errors).toEqual([]);
    expect(first.code).toBe(0);
    expect(first.outputs).toMatchObject({
      'cache-hit': 'false',
      'release-id': 'v1',
      tag: 'shop/staging/v1',
      'previous-release-id': '',
      hosts: host.hostLine,
      'rolled-back': 'false',
    });
    expect(first.outputs.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await readlink(path.join(deployPath, 'current'))).toBe('releases/v1');
    // The sample app's migration ran as the release command, before the switch.
    expect(await ask(port)).toMatchObject({
      greeting: 'Hello from v1',
      release: 'v1',
      schema: '1',
    });
    for (const heading of [
      '### Build shop',
      '### Release [shop/staging/v1]',
      '#### Release command',
    ]) {
      expect(first.summary).toContain(heading);
    }
    expect(first.log).toContain(maskCommand('tok-3c1e9b0d'));
    expect(shownLog(first.log)).not.toContain('tok-3c1e9b0d');

    const second = await ship('Hello from v2', 5002);
    expect(second.errors).toEqual([]);
    expect(second.outputs).toMatchObject({
      'cache-hit': 'true',
      'release-id': 'v2',
      'previous-release-id': 'v1',
      changes: 'Config change GREETING',
    });
    expect(second.outputs.digest).toBe(first.outputs.digest);
    expect(await readlink(path.join(deployPath, 'current'))).toBe('releases/v2');
    expect(await ask(port)).toMatchObject({ greeting: 'Hello from v2', release: 'v2' });
    const env = await readFile(path.join(deployPath, 'releases/v2/.env'), 'utf8');
    expect(env).toContain('API_TOKEN=');
    expect(github.violations()).toEqual([]);
  });

  it('stops at the first stage that fails, naming the input', async () => {
    const github = emulator();
    const repository = `acme/${uniqueName('shop')}`;
    github.createRepository(repository);
    const run = await runAction({
      action: '.',
      workspace: await appTree(),
      env: github.runnerEnv({ repository }),
      inputs: {
        path: 'no-such-dir',
        environment: 'staging',
        'signing-key': signer.privateKey,
        hosts: host.hostLine,
        'ssh-key': host.privateKey,
        'known-hosts': host.knownHosts,
        'allowed-signers': allowedSigners,
      },
    });
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toMatch(/no-such-dir/);
    const state = github.state.repository(repository);
    expect(state.artifacts).toEqual([]);
    expect(state.releases).toEqual([]);
  });
});
