import { actionContext, readInputs, report } from '../../shared/entry.js';
import { buildInputs } from '../../shared/stages/inputs/build.js';

export async function run(): Promise<void> {
  const inputs = readInputs(buildInputs);
  // Loaded once the inputs are good: a step that stops at a bad input never loads the clients.
  const { build } = await import('../../shared/stages/build.js');
  await report(await build(inputs, await actionContext()));
}
