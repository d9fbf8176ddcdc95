/* eslint-disable no-restricted-syntax -- an app entry: its config is its environment. */
// The sample app: answers with its config, so a deploy can be checked from outside.
// Twelve-factor: everything it needs comes from the environment (the release's .env).
import { createServer } from 'node:http';
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';

const port = Number(process.env.PORT);
const greeting = process.env.GREETING;
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`);
  process.exit(1);
}
if (!greeting) {
  console.error('GREETING is not set');
  process.exit(1);
}
// The release directory this process runs from: a health check compares it with its own.
const release = path.basename(realpathSync(process.cwd()));

// The schema the release command (bin/migrate) left in the shared db/: read on each request,
// since a later deploy's migration changes it under a running server.
function schema() {
  try {
    return readFileSync('db/schema-version', 'utf8').trim();
  } catch {
    return null;
  }
}

const server = createServer((request, response) => {
  const body = JSON.stringify({ greeting, release, schema: schema(), pid: process.pid });
  response.writeHead(request.url === '/health' || request.url === '/' ? 200 : 404, {
    'content-type': 'application/json',
  });
  response.end(`${body}\n`);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`release ${release} listening on 127.0.0.1:${port}`);
});
