import { actionContext, readInputs, report } from '../../shared/entry.js';
import { releaseInputs } from '../../shared/stages/inputs/release.js';

export async function run(cancelled: AbortSignal): Promise<void> {
  const inputs = readInputs(releaseInputs);
  // Loaded once the inputs are good: a step that stops at a bad input never loads the clients.
  const { release } = await import('../../shared/stages/release.js');
  await report(await release(inputs, await actionContext(cancelled)));
}
