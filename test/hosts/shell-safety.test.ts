import { mkdir, readFile, readdir, chown } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../shared/errors.js';
import { deployToHost } from './fixtures.js';
import { readHostState } from '../../shared/host/state.js';
import { renderEnvFile } from '../../shared/dotenv.js';
import type { Transport } from '../../shared/host/transport.js';
import { silentLog } from '../../shared/log.js';
import { appFiles, releaseOf, tarBuffer } from './bundles.js';
import { appDeploy, connect, currentOf, freePort, historyOf } from './fixtures.js';
import { startHost, type TestHost } from './sshd.js';

/** Keeps every script a transport was asked to run: what would show in `ps` on the host. */
function recording(inner: Transport): Transport & { scripts: string[] } {
  const scripts: string[] = [];
  return {
    scripts,
    label: inner.label,
    get bytesSent() {
      return inner.bytesSent;
    },
    exec(script, options) {
      scripts.push(script);
      return inner.exec(script, options);
    },
    close: () => inner.close(),
  };
}

describe('shell safety on a real host', () => {
  let host: TestHost;
  let ssh: Transport;
  let bundle: Buffer;
  let marker: string;

  const planted = (what: string) =>
    `$(touch ${marker}-${what}) \`touch ${marker}-${what}\` '; touch ${marker}-${what}; '`;

  beforeAll(async () => {
    host = await startHost();
    ssh = await connect(host);
    bundle = await tarBuffer(await appFiles());
    marker = path.join(host.dir, 'PWNED');
  });

  afterAll(async () => {
    await ssh?.close();
    await host?.stop();
  });

  it('deploys to a root, with config, holder and run values full of shell syntax, running none of it', async () => {
    // The planted paths hold slashes: the root is a few directories deep, which is fine.
    const root = path.join(host.root, `it's a "root" ${planted('root')}`);
    await mkdir(root, { recursive: true });
    await chown(root, host.uid, host.gid);
    const port = await freePort();
    const env = {
      PORT: String(port),
      // Double-quoted in .env: literal to systemd and dotenv, not to sh.
      GREETING: `it's ${planted('config')} with $HOME and \${PATH}\nsecond line`,
      // Bare in .env: both quotes inside.
      QUOTED: `say "hi"; it's ${planted('bare')}`,
      SECRET_TOKEN: `s3cr3t-${planted('secret')}`,
      NODE: process.execPath,
    };
    const transport = recording(ssh);
    const result = await deployToHost(
      transport,
      appDeploy(root, await releaseOf('v1', bundle, env), {
        // The restart writes what it sees, to compare with what the release says.
        restart:
          'printf "%s" "$GREETING" > seen-greeting && printf "%s" "$QUOTED" > seen-quoted && printf "%s" "$SECRET_TOKEN" > seen-secret && bin/restart',
        lock: {
          holder: `mallory ${planted('holder')}`,
          run: `https://x/${planted('run')}`,
          waitSeconds: 0,
        },
      }),
    );
    expect(result.result).toBe('activated');

    const release = path.join(root, 'releases/v1');
    expect(await readFile(path.join(release, 'seen-greeting'), 'utf8')).toBe(env.GREETING);
    expect(await readFile(path.join(release, 'seen-quoted'), 'utf8')).toBe(env.QUOTED);
    expect(await readFile(path.join(release, 'seen-secret'), 'utf8')).toBe(env.SECRET_TOKEN);
    expect(await readFile(path.join(release, '.env'), 'utf8')).toBe(renderEnvFile(env));
    expect(renderEnvFile(env)).toMatch(/^GREETING="/m);
    expect(renderEnvFile(env)).toMatch(/^QUOTED=say "hi"/m);
    const response = (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as {
      greeting: string;
    };
    expect(response.greeting).toBe(env.GREETING);
    expect((await historyOf(root)).at(-1)).toMatchObject({
      by: `mallory ${planted('holder')}`,
      run: `https://x/${planted('run')}`,
    });
    expect(await currentOf(root)).toBe('releases/v1');

    // Nothing planted ran anywhere.
    expect((await readdir(host.dir)).filter((name) => name.startsWith('PWNED'))).toEqual([]);
    expect((await readdir(root)).sort()).toEqual(['.deploy', 'current', 'releases', 'shared']);
    // No config value, secret or not, was ever part of a command line: they went over stdin.
    for (const script of transport.scripts) {
      expect(script).not.toContain('s3cr3t');
      expect(script).not.toContain('second line');
    }
  });

  it('refuses release IDs and shared paths with shell syntax before touching the host', async () => {
    const transport = recording(ssh);
    const port = await freePort();
    for (const id of [`v1$(touch ${marker})`, "v1'", 'v 1', 'v1\nv2', '../v1', '-v1', 'v1.tmp']) {
      const error = await deployToHost(
        transport,
        appDeploy(host.root, await releaseOf(id, bundle, { PORT: String(port) })),
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, id).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toMatch(/^release ID: expected /);
    }
    for (const shared of [`log$(touch ${marker})`, '../x', '/etc', 'a b', '.env']) {
      const error = await deployToHost(
        transport,
        appDeploy(host.root, await releaseOf('v1', bundle, { PORT: String(port) }), {
          sharedPaths: [shared],
        }),
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as Error).message, shared).toMatch(/^Input 'shared-paths': expected /);
    }
    for (const name of ['A-B', '$(id)', 'A B']) {
      const error = await deployToHost(
        transport,
        appDeploy(host.root, await releaseOf('v1', bundle, { [name]: 'x' })),
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as Error).message, name).toMatch(/^config key /);
    }
    expect(transport.scripts).toEqual([]);
    expect((await readHostState(ssh, { root: host.root, log: silentLog })).exists).toBe(true);
    expect((await readdir(host.dir)).filter((name) => name.startsWith('PWNED'))).toEqual([]);
  });
});
