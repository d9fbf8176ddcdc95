import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';
import { z } from 'zod';
import { ConfigurationError, type Problem } from './errors.js';
import { COMMIT_SHA, ENV_NAME, appName, environmentName, releaseId } from './names.js';

/** The release assets that hold the manifest and its SSH signature, beside the bundle. */
export const MANIFEST_ASSET = 'release.json';
export const SIGNATURE_ASSET = 'release.json.sig';

/** The manifest format this code writes and the newest it reads. */
export const SCHEMA_VERSION = 1;

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const FINGERPRINT = /^hmac-sha256:[0-9a-f]{64}$/;
const AGE_ARMOR = '-----BEGIN AGE ENCRYPTED FILE-----';

export type Digest = `sha256:${string}`;

/** The package is CommonJS (`module.exports = serialize`), but its types declare an ES default. */
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

const digest = z.string().regex(DIGEST, 'expected sha256: and 64 lower-case hex digits');
const commitSha = z.string().regex(COMMIT_SHA, 'expected a full commit SHA in lower-case hex');
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const githubId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const time = z.iso.datetime({ message: 'expected an ISO 8601 UTC time like 2025-01-31T12:00:00Z' });
const compression = z.enum(['zstd', 'gzip']);
const artifact = z.strictObject({ id: githubId, name: z.string().min(1).max(256) });
const envName = z.string().regex(ENV_NAME, 'expected an environment variable name');

/** What the build stage learned about a bundle; it travels beside the bundle, never inside. */
export const BuildFacts = z.strictObject({
  app: appName,
  sha: commitSha,
  ref: z.string().min(1),
  runId: githubId,
  runAttempt: githubId,
  digest,
  size: count,
  files: count,
  compression,
  created: time,
  artifact,
});
export type BuildFacts = z.output<typeof BuildFacts>;

const Secrets = z
  .strictObject({
    names: z.array(envName),
    fingerprints: z.record(envName, z.string().regex(FINGERPRINT, 'expected hmac-sha256:<hex>')),
    ciphertext: z
      .string()
      .refine((text) => text.startsWith(AGE_ARMOR), `expected an armored age file (${AGE_ARMOR})`),
  })
  .superRefine((secrets, ctx) => {
    const sorted = [...new Set(secrets.names)].sort();
    if (sorted.join('\n') !== secrets.names.join('\n')) {
      ctx.addIssue({ code: 'custom', path: ['names'], message: 'expected sorted, unique names' });
    }
    if (Object.keys(secrets.fingerprints).sort().join('\n') !== sorted.join('\n')) {
      ctx.addIssue({
        code: 'custom',
        path: ['fingerprints'],
        message: 'expected one fingerprint for each secret name',
      });
    }
  });

/**
 * release.json: one release, immutable. Strict everywhere: a field this code does not know is
 * refused, since a reader that skipped it could deploy something the writer did not mean.
 */
export const Manifest = z
  .strictObject({
    schemaVersion: z.literal(SCHEMA_VERSION),
    app: appName,
    environment: environmentName,
    id: releaseId,
    created: time,
    actor: z.string().min(1).max(100),
    run: z.strictObject({
      id: githubId,
      attempt: githubId,
      url: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }),
    }),
    build: z.strictObject({ sha: commitSha, digest, size: count, compression, artifact }),
    config: z.strictObject({
      vars: z.record(envName, z.string()),
      secrets: Secrets.nullable(),
    }),
    previous: z.strictObject({ id: releaseId, digest }).nullable(),
    changes: z.string().max(1000),
  })
  .superRefine((manifest, ctx) => {
    for (const name of manifest.config.secrets?.names ?? []) {
      if (Object.hasOwn(manifest.config.vars, name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['config', 'vars', name],
          message: 'is also a secret name',
        });
      }
    }
    if (manifest.previous?.id === manifest.id) {
      ctx.addIssue({ code: 'custom', path: ['previous', 'id'], message: 'points to itself' });
    }
  });
export type Manifest = z.output<typeof Manifest>;

/** RFC 8785 (JCS) canonical JSON: the same value always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('canonicalJson: the value has no JSON form');
  return text;
}

/** The exact bytes of release.json: canonical JSON in UTF-8, no trailing newline. */
export function serializeManifest(manifest: Manifest): Uint8Array {
  const checked = Manifest.safeParse(manifest);
  if (!checked.success) {
    const problem = new ConfigurationError(describeIssue('the manifest', checked.error));
    throw new Error(`serializeManifest: ${problem.message}`);
  }
  return new TextEncoder().encode(canonicalJson(checked.data));
}

export function digestOf(bytes: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * Reads release.json bytes. `what` names the file in errors (a tag or a host path), since a
 * deploy reads several manifests and the user has to know which one is wrong.
 */
export function parseManifest(bytes: Uint8Array, what = 'release.json'): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new ConfigurationError({
      subject: what,
      problem: 'is not valid JSON',
      got: (error as Error).message,
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigurationError({ subject: what, expected: 'a JSON object' });
  }
  const version = (value as { schemaVersion?: unknown }).schemaVersion;
  if (typeof version === 'number' && Number.isInteger(version) && version > SCHEMA_VERSION) {
    throw new ConfigurationError({
      subject: what,
      problem: `has schema version ${version}, newer than this action understands (${SCHEMA_VERSION})`,
      hint: 'update build-release-run',
    });
  }
  const result = Manifest.safeParse(value);
  if (!result.success) throw new ConfigurationError(describeIssue(what, result.error));
  return result.data;
}

/** Reads the build facts that travel beside a bundle. */
export function parseBuildFacts(value: unknown, what = 'build facts'): BuildFacts {
  const result = BuildFacts.safeParse(value);
  if (!result.success) throw new ConfigurationError(describeIssue(what, result.error));
  return result.data;
}

/** The first issue: field paths (which hold untrusted keys) go with the subject, escaped. */
function describeIssue(what: string, error: z.ZodError): Problem {
  const issue = error.issues[0];
  if (!issue) return { subject: what, problem: 'is invalid' };
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const fields = issue.keys.map((key) => (path ? `${path}.${key}` : key));
    return { subject: what, problem: 'has an unknown field', got: fields.join(', ') };
  }
  const subject = path ? `${what} field ${path}` : what;
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return { subject, problem: 'is missing' };
  }
  // A name's own check says what it expected and what it got, apart.
  if (issue.code === 'custom' && issue.params !== undefined) {
    return { ...(issue.params as Problem), subject };
  }
  return { subject, problem: issue.message };
}

/** A manifest with the exact bytes it was read from or written as. */
export interface StoredManifest {
  manifest: Manifest;
  bytes: Uint8Array;
}

/** The `previous` link of a new release: the ID and digest of the release before it. */
export function chainTo(previous: StoredManifest | undefined): Manifest['previous'] {
  if (!previous) return null;
  return { id: previous.manifest.id, digest: digestOf(previous.bytes) };
}

/**
 * Checks a release's `previous` link against the release before it, as published: the same
 * ledger, the same ID, and the digest of exactly those bytes. A release changed after its
 * successor was made breaks the link.
 */
export function checkPreviousLink(entry: StoredManifest, before: StoredManifest): void {
  const { app, environment, id } = entry.manifest;
  const subject = `release ${app}/${environment}/${id}`;
  const prior = before.manifest;
  if (app !== prior.app || environment !== prior.environment) {
    throw new ConfigurationError({
      subject,
      problem: `follows ${prior.app}/${prior.environment}/${prior.id}, a release of another ledger`,
    });
  }
  const link = entry.manifest.previous;
  const expected = chainTo(before);
  if (link === null) {
    throw new ConfigurationError({
      subject,
      problem: `names no previous release, but ${prior.id} comes before it; the ledger is broken`,
    });
  }
  if (link.id !== expected?.id) {
    throw new ConfigurationError({
      subject,
      problem: `names ${link.id} as its previous release, but ${prior.id} comes before it; the ledger is broken`,
    });
  }
  if (link.digest !== expected.digest) {
    throw new ConfigurationError({
      subject,
      problem: `records ${link.id} as ${link.digest}, but ${link.id}'s ${MANIFEST_ASSET} is ${expected.digest}`,
      hint: `${link.id} was changed after ${id} was made`,
    });
  }
}

export interface ConfigDiff {
  added: string[];
  changed: string[];
  removed: string[];
}

/**
 * Which config keys differ between two releases, by name only. Secrets are compared by
 * fingerprint, so no value is needed or shown; a key that moves between vars and secrets counts
 * as changed.
 */
export function configDiff(previous: Manifest | undefined, next: Manifest): ConfigDiff {
  const before = configIdentity(previous);
  const after = configIdentity(next);
  const added: string[] = [];
  const changed: string[] = [];
  const removed: string[] = [];
  for (const [name, value] of after) {
    const old = before.get(name);
    if (old === undefined) added.push(name);
    else if (old !== value) changed.push(name);
  }
  for (const name of before.keys()) if (!after.has(name)) removed.push(name);
  return { added: added.sort(), changed: changed.sort(), removed: removed.sort() };
}

function configIdentity(manifest: Manifest | undefined): Map<string, string> {
  const identity = new Map<string, string>();
  if (!manifest) return identity;
  for (const [name, value] of Object.entries(manifest.config.vars)) {
    identity.set(name, `var:${value}`);
  }
  for (const [name, fingerprint] of Object.entries(manifest.config.secrets?.fingerprints ?? {})) {
    identity.set(name, `secret:${fingerprint}`);
  }
  return identity;
}

const NAMES_SHOWN = 5;

function nameList(names: string[]): string {
  if (names.length <= NAMES_SHOWN) return names.join(', ');
  return `${names.slice(0, NAMES_SHOWN).join(', ')} and ${names.length - NAMES_SHOWN} more`;
}

/**
 * The one-line change summary in Heroku's style: "Deploy 1a2b3c4", "Config add DB_URL, change
 * PORT", "Deploy 1a2b3c4, config remove X", "Initial release of 1a2b3c4", "Rerelease 1a2b3c4".
 */
export function changeSummary(previous: Manifest | undefined, next: Manifest): string {
  const short = next.build.sha.slice(0, 7);
  if (!previous) return `Initial release of ${short}`;
  const diff = configDiff(previous, next);
  const parts = [
    diff.added.length ? `add ${nameList(diff.added)}` : '',
    diff.changed.length ? `change ${nameList(diff.changed)}` : '',
    diff.removed.length ? `remove ${nameList(diff.removed)}` : '',
  ].filter((part) => part !== '');
  const config = parts.join(', ');
  const deploy =
    previous.build.sha !== next.build.sha || previous.build.digest !== next.build.digest;
  if (deploy && config) return `Deploy ${short}, config ${config}`;
  if (deploy) return `Deploy ${short}`;
  if (config) return `Config ${config}`;
  return `Rerelease ${short}`;
}
