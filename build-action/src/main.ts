import { actionContext, readInputs, report } from '../../shared/entry.js';
import { build, buildInputs } from '../../shared/stages/build.js';

export async function run(): Promise<void> {
  const inputs = readInputs(buildInputs);
  await report(await build(inputs, actionContext()));
}
