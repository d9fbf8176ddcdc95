import '../../shared/node-globals.js';
import * as core from '@actions/core';
import { formatError } from '../../shared/errors.js';
import { run } from './main.js';

run().catch((error: unknown) => core.setFailed(formatError(error)));
