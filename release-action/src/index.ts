import { cancellation, endIfCancelled, fail } from '../../shared/entry.js';
import { formatError } from '../../shared/errors.js';
import { run } from './main.js';

const cancelled = cancellation();
void run(cancelled)
  .catch((error: unknown) => fail(formatError(error)))
  .finally(() => endIfCancelled(cancelled));
