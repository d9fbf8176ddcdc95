// `npm run bench -- <name>`: runs one benchmark.
import { buildBench } from './build.js';
import { packBench } from './pack.js';
import { startBench } from './start.js';

const benches: Record<string, () => Promise<void>> = {
  pack: packBench,
  build: buildBench,
  start: startBench,
};

const name = process.argv[2];
const bench = name === undefined ? undefined : benches[name];
if (bench === undefined) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}>`);
  process.exit(2);
}
await bench();
