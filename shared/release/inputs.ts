import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { mergeConfig, validateConfig, type MergedConfig } from '../config.js';
import type { ActionContext } from '../context.js';
import { ConfigurationError, forInput } from '../errors.js';
import type { Log } from '../log.js';
import { COMMIT_SHA, isPreviewEnvironment, resolveApp } from '../names.js';
import { maskSecret, parseRecipients } from '../secrets.js';
import {
  keySigner,
  parseAllowedSigners,
  parseSigningKey,
  signMessage,
  verifyMessage,
  type AllowedSigner,
  type SigningKey,
} from '../signature.js';
import type { ReleaseInputs } from '../stages/inputs/release.js';

// The schema lives apart, light, so that the entry parses the inputs before it loads the stage.
export { releaseInputs, type ReleaseInputs } from '../stages/inputs/release.js';

export interface CheckedInputs {
  app: string;
  sha: string;
  signingKey: SigningKey;
  /** Who may have signed the release a new one chains to (chainSigners). */
  chainSigners: AllowedSigner[];
  recipients: string[];
  config: MergedConfig;
  prerelease: boolean;
}

/**
 * Private keys a workflow hands to other steps (run-action's SSH key, the hosts' age identity)
 * come along in `${{ toJSON(secrets) }}`; a release never carries them.
 */
const KEY_MATERIAL = /-----BEGIN OPENSSH PRIVATE KEY-----|AGE-SECRET-KEY-1[0-9A-Z]{58}/;

/**
 * Masks every secret value, and each line of a multi-line one, before anything can print it. Runs
 * before the JSON is checked: text that is not a JSON object is masked whole.
 */
export function maskSecretValues(json: string | undefined, log: Log): void {
  if (json === undefined) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) {
    log.setSecret(json);
    return;
  }
  // Values that are not strings are refused later without being shown.
  for (const value of Object.values(parsed)) if (typeof value === 'string') maskSecret(log, value);
}

function releasedConfig(inputs: ReleaseInputs, log: Log): MergedConfig {
  const config = mergeConfig({
    vars: inputs.vars,
    secrets: inputs.secrets,
    config: inputs.config,
    include: inputs.include,
    exclude: inputs.exclude,
    alwaysExcluded: [],
    withheldValues: [inputs['signing-key']],
  });
  const keys = Object.keys(config.secrets).filter((name) =>
    KEY_MATERIAL.test(config.secrets[name] ?? ''),
  );
  for (const name of keys) delete config.secrets[name];
  if (keys.length > 0) {
    log.info(`Left out: ${keys.join(', ')} (private keys for other steps, never released)`);
  }
  const excluded = config.excluded.filter((name) => !keys.includes(name));
  if (excluded.length > 0) log.info(`Left out by include/exclude: ${excluded.join(', ')}`);
  if (config.shadowed.length > 0) {
    log.info(`Plain values replaced by secrets of the same name: ${config.shadowed.join(', ')}`);
  }
  return config;
}

/** Everything about the inputs that can be refused, refused before anything is read or written. */
export async function checkInputs(
  inputs: ReleaseInputs,
  context: ActionContext,
): Promise<CheckedInputs> {
  const app = resolveApp(inputs.app, context);
  const sha = inputs.sha ?? context.sha;
  if (!COMMIT_SHA.test(sha)) {
    throw new ConfigurationError({
      input: 'sha',
      problem: 'is empty and GITHUB_SHA is not a commit SHA either',
      expected: 'a full commit SHA',
      got: sha,
    });
  }
  const signingKey = forInput('signing-key', () => parseSigningKey(inputs['signing-key']));
  const signers = chainSigners(inputs['allowed-signers'], signingKey);
  const recipients = forInput('recipients', () => parseRecipients(inputs.recipients));
  const config = releasedConfig(inputs, context.log);
  if (inputs.schema !== undefined) {
    validateConfig(
      { ...config.vars, ...config.secrets },
      await readSchema(inputs.schema, context.workspace),
    );
  }
  const secretNames = Object.keys(config.secrets);
  if (secretNames.length > 0 && recipients.length === 0) {
    throw new ConfigurationError({
      input: 'recipients',
      problem: `is empty, but ${secretNames.length} secret(s) would be released (${secretNames.join(', ')})`,
      hint: 'give the age public keys (age1…) to encrypt them to, or leave them out with exclude',
    });
  }
  const prerelease = inputs.prerelease || isPreviewEnvironment(inputs.environment);
  return { app, sha, signingKey, chainSigners: signers, recipients, config, prerelease };
}

/**
 * Who may have signed the release a new one chains to: the keys of `allowed-signers` when it is
 * given (a signing key rotated, the releases of the old one still trusted), else only the key
 * this step signs with. Given, it must trust that key too: the next release would otherwise
 * refuse to chain to this one, and run refuse to deploy it.
 */
function chainSigners(text: string | undefined, key: SigningKey): AllowedSigner[] {
  if (text === undefined) return [keySigner(key.publicKey)];
  const signers = forInput('allowed-signers', () => parseAllowedSigners(text));
  if (signers.length === 0) {
    throw new ConfigurationError({
      input: 'allowed-signers',
      expected: 'at least one line like `ci@example.com ssh-ed25519 AAAA…`',
    });
  }
  const probe = Buffer.from('build-release-run: does allowed-signers trust signing-key?');
  try {
    verifyMessage(probe, signMessage(probe, key), signers);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    throw new ConfigurationError(
      {
        input: 'allowed-signers',
        subject: 'a release signed with signing-key',
        problem: error.problem.problem,
        got: error.problem.got,
        hint: `the next release would not chain to the one this step makes, and run would refuse to deploy it; allow the key with a line like "ci namespaces=\\"build-release-run\\" ${key.publicKey}"`,
      },
      { cause: error },
    );
  }
  return signers;
}

/** The `schema` input: the schema itself as JSON, or a path in the workspace. */
async function readSchema(input: string, workspace: string): Promise<string> {
  if (input.trimStart().startsWith('{')) return input;
  const file = path.resolve(workspace, input.trim());
  try {
    return await readFile(file, 'utf8');
  } catch {
    throw new ConfigurationError({
      input: 'schema',
      problem: `no JSON Schema file at ${JSON.stringify(input)} (looked in ${file})`,
    });
  }
}
