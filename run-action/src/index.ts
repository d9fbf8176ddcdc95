import '../../shared/node-globals.js';
import { fail } from '../../shared/entry.js';
import { formatError } from '../../shared/errors.js';
import { run } from './main.js';

run().catch((error: unknown) => fail(formatError(error)));
