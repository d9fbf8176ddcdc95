#!/usr/bin/env node
import '../../shared/node-globals.js';
import { tmpdir } from 'node:os';
import { main } from './main.js';

void main(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  tempDir: tmpdir(),
}).then((code) => {
  process.exitCode = code;
});
