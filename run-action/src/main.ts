import { actionContext, readInputs, report } from '../../shared/entry.js';
import { runInputs } from '../../shared/stages/inputs/run.js';

export async function run(): Promise<void> {
  const inputs = readInputs(runInputs);
  // Loaded once the inputs are good: a step that stops at a bad input never loads the clients.
  const { run: deploy, RunFailed } = await import('../../shared/stages/run.js');
  try {
    await report(await deploy(inputs, await actionContext()));
  } catch (error) {
    // What each host runs now matters most when something failed.
    if (error instanceof RunFailed) await report(error.result);
    throw error;
  }
}
