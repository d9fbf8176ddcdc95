import { actionContext, readInputs, report } from '../../shared/entry.js';
import { run as deploy, runInputs, RunFailed } from '../../shared/stages/run.js';

export async function run(): Promise<void> {
  const inputs = readInputs(runInputs);
  try {
    await report(await deploy(inputs, actionContext()));
  } catch (error) {
    // What each host runs now matters most when something failed.
    if (error instanceof RunFailed) await report(error.result);
    throw error;
  }
}
