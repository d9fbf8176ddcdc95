/* eslint-disable no-restricted-syntax -- an app entry: its config is its environment. */
// Healthy when this release's server answers on PORT: the process that answers must run from
// the same release directory as this check, or the old release is still the one serving.
import { realpathSync } from 'node:fs';
import path from 'node:path';

const url = `http://127.0.0.1:${process.env.PORT}/health`;
const release = path.basename(realpathSync(process.cwd()));
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  const body = await response.json();
  if (!response.ok || body.release !== release) {
    console.error(`GET ${url}: ${response.status}, serving ${body.release}, expected ${release}`);
    process.exit(1);
  }
  console.log(`GET ${url}: ${body.greeting} from ${body.release}, schema ${body.schema ?? 'none'}`);
} catch (error) {
  console.error(`GET ${url}: ${error.cause?.code ?? error.message}`);
  process.exit(1);
}
