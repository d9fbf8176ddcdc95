import { describe, expect, it } from 'vitest';
import { runAction } from '../helpers/action.js';

describe('bad inputs fail the step with one line naming the input', () => {
  it('a missing required input', async () => {
    const run = await runAction({ action: 'build-action', inputs: {} });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual(["Input 'path' is required"]);
    expect(run.outputs).toEqual({});
    // The run's page says it too, without opening the log.
    expect(run.summary).toBe(
      "### Build: failed\n\n```text\nInput 'path' is required\n```\n\nNo build of this commit was recorded: release-action will not find one.\n",
    );
  });

  it('a wrong type', async () => {
    const run = await runAction({
      action: 'run-action',
      inputs: { environment: 'production', hosts: 'local', 'allowed-signers': 'x', keep: 'many' },
    });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([`Input 'keep': expected a whole number from 2 to 100, got "many"`]);
    expect(run.summary).toContain('### Deploy: failed\n');
    expect(run.summary).toContain('No host was changed, and no GitHub Deployment was recorded.');
  });

  it('an unknown enum value', async () => {
    const run = await runAction({
      action: 'build-action',
      inputs: { path: 'dist', compression: 'lz4' },
    });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([`Input 'compression': expected one of zstd|gzip, got "lz4"`]);
  });

  it('an invalid hosts line', async () => {
    const run = await runAction({
      action: 'run-action',
      inputs: {
        environment: 'production',
        hosts: 'deploy@web-1\nweb 2',
        'allowed-signers': 'x',
      },
    });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([`Input 'hosts': line 2 "web 2" is not local or user@host[:port]`]);
  });

  it('an unsafe environment name, on the release action', async () => {
    const run = await runAction({
      action: 'release-action',
      inputs: { environment: '../prod', 'signing-key': 'k' },
    });
    expect(run.code).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toMatch(/^Input 'environment': expected an environment name/);
    expect(run.summary).toContain('### Release: failed\n');
    expect(run.summary).toContain('No release was published');
  });

  it('the one-step action reads the same inputs', async () => {
    const run = await runAction({
      action: '.',
      inputs: {
        path: 'dist',
        environment: 'staging',
        hosts: 'local',
        'signing-key': 'k',
        'allowed-signers': 'x',
        parallel: '0',
      },
    });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([
      `Input 'parallel': expected a whole number from 1 to 256, got "0"`,
    ]);
  });
});
