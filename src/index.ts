import '../shared/runner-memory.js';
import '../shared/node-globals.js';
import { cancellation, endIfCancelled, failStep } from '../shared/entry.js';
import { run } from './main.js';

const cancelled = cancellation();
void run(cancelled)
  .catch((error: unknown) =>
    failStep(error, {
      title: 'Ship',
      leftBehind: 'Nothing was deployed.',
    }),
  )
  .finally(() => endIfCancelled(cancelled));
