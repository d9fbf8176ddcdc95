// `npm run bench -- <name>`: runs one benchmark.
import { packBench } from './pack.js';

const benches: Record<string, () => Promise<void>> = { pack: packBench };

const name = process.argv[2];
const bench = name === undefined ? undefined : benches[name];
if (bench === undefined) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}>`);
  process.exit(2);
}
await bench();
