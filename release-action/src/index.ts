import * as core from '@actions/core';
import { cancellation, endIfCancelled } from '../../shared/entry.js';
import { formatError } from '../../shared/errors.js';
import { run } from './main.js';

const cancelled = cancellation();
void run(cancelled)
  .catch((error: unknown) => core.setFailed(formatError(error)))
  .finally(() => endIfCancelled(cancelled));
