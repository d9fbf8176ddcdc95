import { describe, expect, it } from 'vitest';
import { runAction } from '../helpers/action.js';
import { ageKey } from '../helpers/keys.js';
import { makeSigner } from '../helpers/releases.js';

describe('bad inputs fail the step with one line naming the input', () => {
  it('a missing required input', async () => {
    const run = await runAction({ action: 'build-action', inputs: {} });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual(["Input 'path': is required"]);
    expect(run.outputs).toEqual({});
    // The run's page says it too, without opening the log.
    expect(run.summary.trimEnd()).toBe(
      "### Build: failed\n\n```text\nInput 'path': is required\n```\n\nNo build of this commit was recorded: release-action will not find one.",
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

  it('a value the runner would read as an escape, shown as it was given', async () => {
    const run = await runAction({
      action: 'run-action',
      inputs: { environment: 'production', hosts: 'local', keep: '5%0A%25' },
    });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([
      `Input 'keep': expected a whole number from 2 to 100, got "5%0A%25"`,
    ]);
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
    expect(run.errors).toEqual([
      `Input 'hosts': line 2: expected local or user@host[:port], got "web 2"`,
    ]);
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

  it('a release ID that only selects a release, or that a host keeps for a release in transit', async () => {
    for (const id of ['latest', 'previous', 'v3.tmp']) {
      const run = await runAction({
        action: 'release-action',
        inputs: { environment: 'production', 'signing-key': 'k', 'release-id': id },
      });
      expect(run.code).toBe(1);
      expect(run.errors).toEqual([
        `Input 'release-id': expected a release ID other than 'latest' and 'previous' (they select a release), not ending in .tmp, got "${id}"`,
      ]);
    }
    const run = await runAction({
      action: 'run-action',
      inputs: { environment: 'production', hosts: 'local', 'release-id': 'v3.tmp' },
    });
    expect(run.errors).toEqual([
      `Input 'release-id': expected latest, previous or a release ID (like v12), got "v3.tmp"`,
    ]);
  });

  it('an age identity given as a recipient, never printed', async () => {
    const [signer, age] = await Promise.all([makeSigner(), ageKey()]);
    const run = await runAction({
      action: 'release-action',
      inputs: {
        environment: 'production',
        'signing-key': signer.privateKey,
        recipients: `${age.recipient}\n${age.identity}`,
      },
    });
    expect(run.code).toBe(1);
    expect(run.errors).toEqual([
      "Input 'recipients': line 2: is an age identity, a secret key: it was not printed; expected an age X25519 recipient (age1… as age-keygen -y prints it); give its recipient instead: age-keygen -y KEY_FILE prints it",
    ]);
    expect(run.log).not.toContain(age.identity.slice(16));
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
