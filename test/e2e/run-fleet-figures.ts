/*
 * Wall time of run-action (its built dist, run as the runner runs it) deploying to 1, 4 and 8
 * real SSH hosts on this machine, with `parallel` 1 and 8:
 *   node_modules/.bin/node scripts/build.mjs --only run-action
 *   node_modules/.bin/node node_modules/.bin/tsx test/e2e/run-fleet-figures.ts
 * Each host gets a fresh ~1 MB release and a one-second restart (`sleep 1`), as a service would.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startGitHub } from '../emulator/index.js';
import { runAction } from '../helpers/action.js';
import {
  appTree,
  makeKeys,
  pack,
  publishRelease,
  type PublishedRelease,
} from '../helpers/releases.js';
import { startHost } from '../hosts/sshd.js';

const github = await startGitHub();
const hosts = await Promise.all(
  Array.from({ length: 8 }, () => startHost({ ownWorkingDirectory: true })),
);
const keys = await makeKeys();
const repository = 'acme/fleet-figures';
github.createRepository(repository);
const clientKey = (await readFile(path.join(hosts[0]!.dir, 'client_key.pub'), 'utf8')).trim();
for (const h of hosts.slice(1)) {
  await writeFile(path.join(h.dir, 'authorized_keys'), `${clientKey}\n`, { flag: 'a' });
}
const sha = 'f'.repeat(40);
const bundle = await pack(
  await appTree({ 'data/filler.bin': randomBytes(1024 * 1024) }),
  'shop',
  sha,
);

let previous: PublishedRelease | undefined;
let n = 0;
try {
  for (const count of [1, 4, 8]) {
    for (const parallel of [1, 8]) {
      const id = `v${++n}`;
      previous = await publishRelease(github, {
        repository,
        app: 'shop',
        environment: 'production',
        id,
        sha,
        bundle,
        keys,
        vars: { GREETING: id },
        ...(previous ? { previous } : {}),
      });
      const on = hosts.slice(0, count);
      const started = performance.now();
      const run = await runAction({
        action: 'run-action',
        env: github.runnerEnv({ repository }),
        inputs: {
          environment: 'production',
          app: 'shop',
          'release-id': id,
          hosts: on.map((h) => h.hostLine).join('\n'),
          path: 'app',
          'ssh-key': hosts[0]!.privateKey,
          'known-hosts': on.map((h) => h.knownHosts).join(''),
          'allowed-signers': keys.allowedSigners,
          restart: 'sleep 1',
          'health-check': 'test -f server.mjs',
          parallel: String(parallel),
          deployment: 'false',
        },
      });
      const wall = (performance.now() - started) / 1000;
      if (run.code !== 0) throw new Error(run.errors.join('; '));
      console.log(`${count} host(s), parallel ${parallel}: step ${wall.toFixed(2)} s`);
    }
  }
} finally {
  await Promise.all(hosts.map((h) => h.stop()));
  await github.stop();
}
