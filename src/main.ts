import { actionContext, readInputs, report } from '../shared/entry.js';
import { ship, shipInputs } from '../shared/stages/ship.js';

export async function run(cancelled: AbortSignal): Promise<void> {
  const inputs = readInputs(shipInputs);
  await report(await ship(inputs, actionContext(cancelled)));
}
