import { failStep } from '../../shared/entry.js';
import { run } from './main.js';

run().catch((error: unknown) =>
  failStep(error, {
    title: 'Build',
    leftBehind: 'No build of this commit was recorded: release-action will not find one.',
  }),
);
