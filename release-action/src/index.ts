import '../../shared/runner-memory.js';
import { cancellation, endIfCancelled, failStep } from '../../shared/entry.js';
import { run } from './main.js';

const cancelled = cancellation();
void run(cancelled)
  .catch((error: unknown) =>
    failStep(error, {
      title: 'Release',
      leftBehind: 'No release was published: a draft made before the failure is deleted.',
    }),
  )
  .finally(() => endIfCancelled(cancelled));
