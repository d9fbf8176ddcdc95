import { actionContext, readInputs, report } from '../../shared/entry.js';
import { runInputs } from '../../shared/stages/inputs/run.js';

export async function run(): Promise<void> {
  const inputs = readInputs(runInputs);
  // Loaded once the inputs are good: a step that stops at a bad input never loads the clients.
  const { run: deploy } = await import('../../shared/stages/run.js');
  await report(await deploy(inputs, await actionContext()));
}
