import { actionContext, readInputs, report } from '../../shared/entry.js';
import { run as deploy, runInputs } from '../../shared/stages/run.js';

export async function run(): Promise<void> {
  const inputs = readInputs(runInputs);
  await report(await deploy(inputs, actionContext()));
}
