#!/usr/bin/env node
import { hostname, tmpdir, userInfo } from 'node:os';

/** brr runs on the Node the actions run on; an older one fails to load it with a confusing error. */
const NODE_MAJOR = 24;

/** Who runs brr, for the hosts' lock and history; a uid without a passwd entry has no name. */
function user(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? `uid-${process.getuid?.() ?? '?'}`;
  }
}

const major = Number(process.versions.node.split('.')[0]);
if (major < NODE_MAJOR) {
  process.stderr.write(
    `error: brr needs Node.js ${NODE_MAJOR} or newer; this is Node.js ${process.versions.node}\n`,
  );
  process.exitCode = 1;
} else {
  await import('../../shared/runner-memory.js');
  await import('../../shared/node-globals.js');
  const { main } = await import('./main.js');
  process.exitCode = await main(process.argv.slice(2), {
    env: process.env,
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: process.stderr,
    tempDir: tmpdir(),
    operator: `${user()}@${hostname()}`,
  });
}
