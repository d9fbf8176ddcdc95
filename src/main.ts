import { actionContext, readInputs, report } from '../shared/entry.js';
import { shipInputs } from '../shared/stages/inputs/ship.js';

export async function run(cancelled: AbortSignal): Promise<void> {
  const inputs = readInputs(shipInputs);
  // Loaded once the inputs are good: a step that stops at a bad input never loads the clients.
  const { ship } = await import('../shared/stages/ship.js');
  await report(await ship(inputs, await actionContext(cancelled)));
}
