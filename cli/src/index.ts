#!/usr/bin/env node
import { tmpdir } from 'node:os';

/** brr runs on the Node the actions run on; an older one fails to load it with a confusing error. */
const NODE_MAJOR = 24;

const major = Number(process.versions.node.split('.')[0]);
if (major < NODE_MAJOR) {
  process.stderr.write(
    `error: brr needs Node.js ${NODE_MAJOR} or newer; this is Node.js ${process.versions.node}\n`,
  );
  process.exitCode = 1;
} else {
  await import('../../shared/node-globals.js');
  const { main } = await import('./main.js');
  process.exitCode = await main(process.argv.slice(2), {
    env: process.env,
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: process.stderr,
    tempDir: tmpdir(),
  });
}
