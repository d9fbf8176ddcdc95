import { actionContext, readInputs, report } from '../../shared/entry.js';
import { release, releaseInputs } from '../../shared/stages/release.js';

export async function run(cancelled: AbortSignal): Promise<void> {
  const inputs = readInputs(releaseInputs);
  await report(await release(inputs, actionContext(cancelled)));
}
