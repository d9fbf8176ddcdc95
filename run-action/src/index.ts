import '../../shared/runner-memory.js';
import '../../shared/node-globals.js';
import { failStep } from '../../shared/entry.js';
import { run } from './main.js';

run().catch((error: unknown) =>
  failStep(error, {
    title: 'Deploy',
    leftBehind: 'No host was changed, and no GitHub Deployment was recorded.',
  }),
);
