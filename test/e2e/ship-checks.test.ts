import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useGitHub } from '../emulator/vitest.js';
import { runAction, uniqueName } from '../helpers/action.js';
import { ageKey, sshKey, type AgeKey, type SshKey } from '../helpers/keys.js';
import { appTree } from '../helpers/releases.js';
import { startHost, type TestHost } from '../hosts/sshd.js';
import { shownLog } from './release-helpers.js';

/*
 * ship checks the inputs of all three stages before its build uploads anything: a mistake in
 * any of them is one line naming the input as written under `with:`, and leaves nothing behind
 * on GitHub (no artifact, cache entry, release, tag or Deployment) or on the host.
 */

const emulator = useGitHub();

let host: TestHost;
let signer: SshKey;
let stranger: SshKey;
let age: AgeKey;
let otherAge: AgeKey;
let allowedSigners: string;
let workspace: string;

beforeAll(async () => {
  [host, signer, stranger, age, otherAge] = await Promise.all([
    startHost(),
    sshKey(),
    sshKey('ed25519', 'mallory@example.com'),
    ageKey(),
    ageKey(),
  ]);
  allowedSigners = await readFile(signer.allowedSignersFile, 'utf8');
  workspace = await appTree();
});

afterAll(async () => {
  await host?.stop();
});

/** SSH connections the host has accepted so far. */
function connections(): number {
  return host.log().match(/Connection from 127\.0\.0\.1/g)?.length ?? 0;
}

function goodInputs(deployPath: string): Record<string, string> {
  return {
    app: 'shop',
    path: '.',
    command: 'echo compiling',
    environment: 'staging',
    vars: JSON.stringify({ GREETING: 'hello' }),
    secrets: JSON.stringify({ API_TOKEN: 'tok-5ee1c0de' }),
    'signing-key': signer.privateKey,
    recipients: age.recipient,
    hosts: host.hostLine,
    'deploy-path': deployPath,
    'ssh-key': host.privateKey,
    'known-hosts': host.knownHosts,
    'allowed-signers': allowedSigners,
    identity: age.identity,
  };
}

type Inputs = Record<string, string | undefined>;

const cases: [string, () => Promise<Inputs> | Inputs, RegExp][] = [
  [
    'a signing-key that is not Ed25519',
    async () => ({ 'signing-key': (await sshKey('ecdsa')).privateKey }),
    /^Input 'signing-key': expected an Ed25519 key, got an ECDSA key/,
  ],
  [
    'an age identity given as recipients',
    () => ({ recipients: age.identity }),
    /^Input 'recipients': line 1: is an age identity, a secret key: it was not printed/,
  ],
  [
    'vars that are not JSON',
    () => ({ vars: 'GREETING=hello' }),
    /^Input 'vars': expected a JSON object like \$\{\{ toJSON\(vars\) \}\}$/,
  ],
  [
    'secrets that are not JSON',
    () => ({ secrets: '{"API_TOKEN": "tok-5ee1c0de"' }),
    /^Input 'secrets': expected a JSON object like \$\{\{ toJSON\(secrets\) \}\}$/,
  ],
  [
    'config the schema refuses',
    () => ({ schema: JSON.stringify({ type: 'object', required: ['DB_URL'] }) }),
    /^Input 'schema': config key DB_URL: is required by the schema$/,
  ],
  [
    'a token GitHub does not accept',
    () => ({ token: 'ghs_not-a-token-of-this-job' }),
    /^Input 'token': GitHub did not accept it while checking it \(401\)/,
  ],
  [
    'a malformed allowed-signers line',
    () => ({ 'allowed-signers': 'ci@example.com ssh-ed25519' }),
    /^Input 'allowed-signers': line 1: /,
  ],
  [
    'allowed-signers that do not trust signing-key',
    () => ({ 'allowed-signers': `${stranger.principal} ${stranger.publicKey}\n` }),
    /^Input 'allowed-signers': a release signed with signing-key: is made by a key that is not in allowed-signers; got ssh-ed25519 \S+; the next release would not chain to the one this step makes, and run would refuse to deploy it/,
  ],
  [
    'an identity that is not one',
    () => ({ identity: 'AGE-SECRET-KEY-1NOPE' }),
    /^Input 'identity': line 1: expected an age X25519 identity/,
  ],
  [
    'an identity that is not of any recipient',
    () => ({ identity: otherAge.identity }),
    /^Input 'identity': is not the identity of any of recipients: run could not decrypt the secrets; got age1\S+/,
  ],
  [
    'no identity for a release with secrets',
    () => ({ identity: undefined }),
    /^Input 'identity': is required: the release will have secrets \(API_TOKEN\)/,
  ],
  [
    'a deploy-path that climbs out',
    () => ({ 'deploy-path': '/srv/shop/../etc' }),
    /^Input 'deploy-path': expected a path without '\.\.', got "\/srv\/shop\/\.\.\/etc"$/,
  ],
  [
    'no known-hosts for an SSH host',
    () => ({ 'known-hosts': undefined }),
    /^Input 'known-hosts': required for SSH hosts \(brr-deploy@127\.0\.0\.1:\d+\)/,
  ],
  [
    'known-hosts without the host',
    () => ({ 'known-hosts': `[127.0.0.1]:1 ${host.knownHosts.split(' ').slice(1).join(' ')}` }),
    /^host brr-deploy@127\.0\.0\.1:\d+: not in known-hosts; add a line for \[127\.0\.0\.1\]:\d+/,
  ],
  [
    'a public key given as ssh-key',
    () => ({ 'ssh-key': `${stranger.publicKey}\n` }),
    /^Input 'ssh-key': expected an unencrypted OpenSSH private key \(-----BEGIN OPENSSH PRIVATE KEY-----\), got a ssh-ed25519 public key/,
  ],
];

describe('ship checks every stage’s inputs before it builds anything', () => {
  for (const [what, inputs, message] of cases) {
    it(`${what}: one line naming the input, nothing left anywhere`, async () => {
      const github = emulator();
      const repository = `acme/${uniqueName('shop')}`;
      github.createRepository(repository);
      const env = github.runnerEnv({ repository });
      const deployPath = path.join(host.root, uniqueName('shop'));
      const seen = connections();
      const run = await runAction({
        action: '.',
        workspace,
        env: { ...env, SOURCE_DATE_EPOCH: '1700000000', HOME: path.join(host.dir, 'runner-home') },
        inputs: { ...goodInputs(deployPath), ...(await inputs()) },
      });
      expect(run.code, run.log).toBe(1);
      expect(run.errors).toHaveLength(1);
      expect(run.errors[0]).not.toContain('\n');
      expect(run.errors[0]).toMatch(message);
      expect(run.log).not.toContain('Running the build command');
      expect(shownLog(run.log)).not.toMatch(/tok-5ee1c0de|AGE-SECRET-KEY-1[0-9A-Z]{10}/);
      const state = github.state.repository(repository);
      expect(state.artifacts).toEqual([]);
      expect(state.caches).toEqual([]);
      expect(state.releases).toEqual([]);
      expect(state.tags).toEqual({});
      expect(state.deployments).toEqual([]);
      // At most the token's one request; nothing that writes.
      const requests = github.requests().filter((r) => r.path.startsWith(`/repos/${repository}`));
      expect(requests.map((r) => `${r.method} ${r.operation}`)).toEqual(
        what.startsWith('a token') ? ['GET repos/get'] : [],
      );
      expect(connections(), 'SSH connections to the host').toBe(seen);
      await expect(stat(deployPath)).rejects.toThrow();
    });
  }
});
