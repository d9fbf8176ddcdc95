import { actionContext, readInputs, report } from '../shared/entry.js';
import { RunFailed } from '../shared/stages/run.js';
import { ship, shipInputs } from '../shared/stages/ship.js';

export async function run(cancelled: AbortSignal): Promise<void> {
  const inputs = readInputs(shipInputs);
  try {
    await report(await ship(inputs, actionContext(cancelled)));
  } catch (error) {
    // What each host runs now matters most when something failed.
    if (error instanceof RunFailed) await report(error.result);
    throw error;
  }
}
