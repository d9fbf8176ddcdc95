import { z } from 'zod';
import { sharedPath } from '../../host/scripts/root.js';
import { booleanInput, enumInput, integerInput, linesInput, sizeInput } from '../../inputs.js';
import { appName, environmentName, jumpHost, parseHost, releaseSelector } from '../../names.js';

/** run-action's inputs, by their names in action.yml; parsed before the stage loads. */
export const runInputs = z.object({
  environment: environmentName,
  app: appName.optional(),
  'release-id': releaseSelector.optional().transform((value) => value ?? 'latest'),
  hosts: linesInput('local or user@host[:port]', parseHost, { required: true }),
  path: z.string().optional(),
  'ssh-key': z.string().optional(),
  'known-hosts': z.string().optional(),
  'proxy-jump': jumpHost.optional(),
  'proxy-jump-key': z.string().optional(),
  'allowed-signers': z.string().optional(),
  identity: z.string().optional(),
  'max-unpacked-size': sizeInput(1024),
  restart: z.string().optional(),
  'health-check': z.string().optional(),
  'health-timeout': integerInput(60, 1, 3600),
  'release-command': z.string().optional(),
  'release-command-timeout': integerInput(600, 1, 21600),
  'release-command-host': z.string().optional(),
  'release-command-on-rollback': booleanInput(false),
  keep: integerInput(5, 2, 100),
  'shared-paths': linesInput('a relative directory path', sharedPath),
  parallel: integerInput(1, 1, 256),
  'on-failure': enumInput(['rollback', 'stop'] as const, 'rollback'),
  'lock-timeout': integerInput(0, 0, 3600),
  'lock-stale-after': integerInput(30, 2, 3600),
  destroy: booleanInput(false),
  'destroy-confirm': z.string().optional(),
  'stop-command': z.string().optional(),
  'delete-releases': booleanInput(false),
  'dry-run': booleanInput(false),
  deployment: booleanInput(true),
  url: z.url({ error: 'expected an absolute URL such as https://staging.example.com' }).optional(),
  token: z.string().optional(),
});

export type RunInputs = z.output<typeof runInputs>;
