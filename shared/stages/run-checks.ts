import type { ActionContext } from '../context.js';
import { ConfigurationError, forInput, quoted } from '../errors.js';
import { checkHostAccess, localEnv, proxyJumpOf, type HostAccess } from '../fleet/connect.js';
import { releaseCommandFrom, type ReleaseCommand } from '../fleet/release-command.js';
import { deployRoot } from '../host/scripts/root.js';
import { isPreviewEnvironment, resolveApp } from '../names.js';
import { parseIdentities } from '../secrets.js';
import { parseAllowedSigners, type AllowedSigner } from '../signature.js';
import type { RunInputs } from './inputs/run.js';

/** The run stage's inputs once checked: everything a deploy needs that can be refused up front. */
export interface CheckedRun {
  app: string;
  /** The deploy root, normalised. */
  root: string;
  allowedSigners: AllowedSigner[];
  /** The `identity` input's age identities, parsed (the text itself decrypts). */
  identities: string[];
  access: HostAccess;
  releaseCommand: ReleaseCommand | undefined;
}

export interface RunInputNames {
  /** What the deploy root is called where the inputs come from: `path`, or ship's `deploy-path`. */
  path: string;
}

/**
 * The run stage's "check inputs" step: every input parsed and checked before anything is read
 * from GitHub or a host, with no request and no connection. Secrets are masked first. ship runs
 * it before its build; run-action as the stage's first step.
 */
export function checkRun(
  inputs: Omit<RunInputs, 'release-id'>,
  context: ActionContext,
  names: RunInputNames = { path: 'path' },
): CheckedRun {
  for (const secret of [inputs['ssh-key'], inputs['proxy-jump-key'], inputs.identity]) {
    if (secret) context.log.setSecret(secret);
  }
  const app = resolveApp(inputs.app, context);
  const root = forInput(names.path, () =>
    deployRoot(inputs.path ?? `/srv/${app}/${inputs.environment}`),
  );
  checkDestroy(inputs);
  // Destroying verifies nothing: it removes what is on the hosts.
  const allowedSigners = inputs.destroy ? [] : requiredSigners(inputs['allowed-signers']);
  const identities = inputs.identity === undefined ? [] : parseIdentities(inputs.identity);
  const access = hostAccess(inputs, context);
  checkHostAccess(inputs.hosts, access);
  const releaseCommand = releaseCommandFrom({
    command: inputs['release-command'],
    host: inputs['release-command-host'],
    hosts: inputs.hosts,
    timeoutSeconds: inputs['release-command-timeout'],
    onReturn: inputs['release-command-on-rollback'],
  });
  return { app, root, allowedSigners, identities, access, releaseCommand };
}

function requiredSigners(text: string | undefined): AllowedSigner[] {
  const signers = parseAllowedSigners(text ?? '');
  if (signers.length === 0) {
    throw new ConfigurationError({
      input: 'allowed-signers',
      expected: 'at least one line like `ci@example.com ssh-ed25519 AAAA…`',
    });
  }
  return signers;
}

/**
 * `destroy` removes an environment from its hosts for good: a preview's (`pr-<n>`) as a pull
 * request closes, any other only when its name is given again in `destroy-confirm`.
 */
function checkDestroy(inputs: Omit<RunInputs, 'release-id'>): void {
  const { environment } = inputs;
  const confirm = inputs['destroy-confirm'];
  if (!inputs.destroy) {
    if (confirm === undefined) return;
    throw new ConfigurationError({ input: 'destroy-confirm', problem: 'set, but destroy is not' });
  }
  // A dry run changes nothing; a teardown has no dry run, so the two are never taken together.
  if (inputs['dry-run']) {
    throw new ConfigurationError({
      input: 'dry-run',
      problem: 'set with destroy, which has no dry run: nothing was stopped or removed',
      hint: 'leave dry-run out to tear the environment down',
    });
  }
  if (confirm === undefined) {
    if (isPreviewEnvironment(environment)) return;
    throw new ConfigurationError({
      input: 'destroy',
      problem: `${environment} is not a preview environment (pr-<n>): destroy would remove it from every host`,
      hint: `to tear it down all the same, give its name again as destroy-confirm: ${environment}`,
    });
  }
  if (confirm !== environment) {
    throw new ConfigurationError({
      input: 'destroy-confirm',
      expected: `the name of the environment destroy removes, ${environment}`,
      got: quoted(confirm),
    });
  }
}

function hostAccess(inputs: Omit<RunInputs, 'release-id'>, context: ActionContext): HostAccess {
  const proxyJump = proxyJumpOf({
    bastion: inputs['proxy-jump'],
    proxyJumpKey: inputs['proxy-jump-key'],
    sshKey: inputs['ssh-key'],
  });
  return {
    sshKey: inputs['ssh-key'],
    knownHosts: inputs['known-hosts'],
    localEnv: localEnv(context.env),
    ...(proxyJump ? { proxyJump } : {}),
  };
}
