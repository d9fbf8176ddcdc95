// `npm run bench -- <name> [options]`: runs one benchmark.
import { blocksBench } from './blocks.js';
import { buildBench } from './build.js';
import { deployBench } from './deploy.js';
import { ledgerBench } from './ledger.js';
import { packBench } from './pack.js';
import { sshBench } from './ssh.js';
import { startBench } from './start.js';
import { streamBench } from './stream.js';

const benches: Record<string, (args: string[]) => Promise<void>> = {
  pack: packBench,
  build: buildBench,
  deploy: deployBench,
  ssh: sshBench,
  blocks: blocksBench,
  start: startBench,
  stream: streamBench,
  ledger: (_args) => ledgerBench(),
};

const [name, ...args] = process.argv.slice(2);
const bench = name === undefined ? undefined : benches[name];
if (bench === undefined) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [options]`);
  process.exit(2);
}
await bench(args);
