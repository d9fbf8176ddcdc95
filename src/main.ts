import { actionContext, readInputs, report } from '../shared/entry.js';
import { shipInputs } from '../shared/stages/inputs/ship.js';

export async function run(cancelled: AbortSignal): Promise<void> {
  const inputs = readInputs(shipInputs);
  // Loaded once the inputs are good: a step that stops at a bad input never loads the clients.
  const [{ ship }, { RunFailed }] = await Promise.all([
    import('../shared/stages/ship.js'),
    import('../shared/stages/run.js'),
  ]);
  try {
    await report(await ship(inputs, await actionContext(cancelled)));
  } catch (error) {
    // What each host runs now matters most when something failed.
    if (error instanceof RunFailed) await report(error.result);
    throw error;
  }
}
