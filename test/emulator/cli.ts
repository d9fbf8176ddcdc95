import { parseArgs } from 'node:util';
import { startGitHub } from './index.js';

/**
 * `npm run emulator [-- --repository owner/name] [--mutable-releases]`: a local GitHub until
 * Ctrl-C. Prints the variables that point an action (or @actions/* clients) at it.
 */

const { values } = parseArgs({
  options: {
    repository: { type: 'string', default: 'acme/shop' },
    'mutable-releases': { type: 'boolean', default: false },
  },
});

const started = Date.now();
const github = await startGitHub();
const repository = values.repository ?? 'acme/shop';
github.createRepository(repository, { immutableReleases: !values['mutable-releases'] });
const env = github.runnerEnv({ repository });

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
console.log(`# GitHub emulator up in ${Date.now() - started} ms; repository ${repository}`);
console.log(`# REST ${github.apiUrl}  uploads ${github.uploadsUrl}`);
console.log(`# results ${github.resultsUrl}  blobs ${github.blobUrl}`);
console.log('# Paste into a shell to point an action at it:');
for (const [name, value] of Object.entries(env)) console.log(`export ${name}=${quote(value)}`);

const report = setInterval(() => {
  const violations = github.violations();
  if (violations.length === 0) return;
  for (const v of violations) {
    console.error(`contract violation: ${v.operation} ${v.direction} ${v.field}: ${v.message}`);
  }
  github.clearViolations();
}, 1000);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  clearInterval(report);
  void github.stop().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
