// `npm run bench -- <name>`: runs one benchmark.
import { buildBench } from './build.js';
import { ledgerBench } from './ledger.js';
import { packBench } from './pack.js';

const benches: Record<string, () => Promise<void>> = {
  pack: packBench,
  build: buildBench,
  ledger: ledgerBench,
};

const name = process.argv[2];
const bench = name === undefined ? undefined : benches[name];
if (bench === undefined) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}>`);
  process.exit(2);
}
await bench();
