import {
  configDiff,
  MANIFEST_ASSET,
  SIGNATURE_ASSET,
  type ConfigDiff,
  type Manifest,
} from '../manifest.js';
import { factsTable, formatBytes } from '../markdown.js';

/**
 * The release body: what changed, what the release holds (the build's commit among it: the tag
 * does not point there), how to deploy it and go back, how to check it. GitHub takes at most
 * 125,000 characters; past a bound the config lists are summarised and point at release.json.
 */

/** GitHub's limit on a release body, with room left for the line that marks this job's draft. */
export const BODY_LIMIT = 125_000 - 200;
/** Names listed in a summarised body, per list. */
const NAMES_SHOWN = 50;

export interface NotesInput {
  tag: string;
  manifest: Manifest;
  previous: Manifest | undefined;
  digest: string;
  links: ReleaseLinks;
}

/** Where the body's links and commands point: this repository, and the action's own. */
export interface ReleaseLinks {
  /** `owner/repo` of the repository the release is in. */
  repository: string;
  /** Its page: `https://github.com/owner/repo`. */
  repositoryUrl: string;
  /** How a workflow names run-action in `uses:`. */
  runAction: string;
  /** This project's docs, at the version that made the release: a page's name is added. */
  docs: string;
}

/** A fenced block that no backtick run inside it can close early. */
function fenced(language: string, lines: string[]): string[] {
  const longest = Math.max(
    0,
    ...lines.map((line) => (line.match(/`+/g) ?? []).map((run) => run.length)).flat(),
  );
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}${language}`, ...lines, fence];
}

/** One line per changed key: var values shown (they are plain in release.json), secrets by name. */
function diffLines(previous: Manifest | undefined, next: Manifest, diff: ConfigDiff): string[] {
  const show = (manifest: Manifest | undefined, name: string) =>
    manifest && Object.hasOwn(manifest.config.vars, name)
      ? JSON.stringify(manifest.config.vars[name])
      : '(secret)';
  return [
    ...diff.added.map((name) => `+ ${name} ${show(next, name)}`),
    ...diff.changed.map((name) => `~ ${name} ${show(previous, name)} -> ${show(next, name)}`),
    ...diff.removed.map((name) => `- ${name}`),
  ];
}

function names(list: string[], limit = Number.POSITIVE_INFINITY): string {
  if (list.length === 0) return 'none';
  const shown = list.slice(0, limit).map((name) => `\`${name}\``);
  const more = list.length > limit ? ` and ${list.length - limit} more` : '';
  return `${shown.join(', ')}${more}`;
}

/** The config section: in full, or (summarised) names only and bounded, pointing at release.json. */
function configSection(input: NotesInput, summarised: boolean): string[] {
  const { manifest, previous } = input;
  const limit = summarised ? NAMES_SHOWN : Number.POSITIVE_INFINITY;
  const lines = [
    '#### Config',
    '',
    `Vars: ${names(Object.keys(manifest.config.vars), limit)}`,
    '',
    `Secrets (age-encrypted; names only): ${names(manifest.config.secrets?.names ?? [], limit)}`,
    '',
  ];
  if (!previous) return lines;
  const diff = configDiff(previous, manifest);
  const changed = diffLines(previous, manifest, diff);
  if (changed.length === 0) return [...lines, `No config change since ${previous.id}.`];
  if (!summarised)
    return [...lines, `Changes since ${previous.id}:`, '', ...fenced('diff', changed)];
  return [
    ...lines,
    `Changes since ${previous.id}: added ${names(diff.added, limit)}; changed ${names(diff.changed, limit)}; removed ${names(diff.removed, limit)}.`,
    '',
    `Too long to show here: the values are in ${MANIFEST_ASSET}.`,
  ];
}

/** The build's commit, linked; and what changed in the code since the previous release. */
function codeRows(input: NotesInput): [string, string][] {
  const { manifest, previous, links } = input;
  const { sha } = manifest.build;
  const commit = `[\`${sha}\`](${links.repositoryUrl}/commit/${sha})`;
  const rows: [string, string][] = [
    ['Build', `${commit} · \`${manifest.build.digest}\` · ${formatBytes(manifest.build.size)}`],
  ];
  if (previous) {
    rows.push([
      'Code',
      previous.build.sha === sha
        ? `the same build as ${previous.id}: only the config changed`
        : `[${previous.build.sha.slice(0, 7)}...${sha.slice(0, 7)}](${links.repositoryUrl}/compare/${previous.build.sha}...${sha}): what changed since ${previous.id}'s build`,
    ]);
  }
  return rows;
}

function heading(input: NotesInput): string[] {
  const { manifest } = input;
  return [
    `**${manifest.changes}**`,
    '',
    factsTable([
      ['Release', `\`${input.tag}\``],
      ...codeRows(input),
      [
        'Previous',
        manifest.previous
          ? `${manifest.previous.id} (\`${manifest.previous.digest}\`)`
          : 'none: the first release',
      ],
      ['Manifest', `\`${input.digest}\` (${MANIFEST_ASSET}, signed in ${SIGNATURE_ASSET})`],
      [
        'Made',
        `${manifest.created} by ${manifest.actor} in [run ${manifest.run.id}](${manifest.run.url})`,
      ],
    ]),
    '',
    `The tag marks this release's place in the ledger; the build's commit is \`${manifest.build.sha}\`.`,
    '',
  ];
}

/**
 * How to deploy it, go back, and check it: commands that run as written, with the settings
 * docs/keys.md names and the rollback workflow examples/workflows/rollback.yml gives.
 */
function footer(input: NotesInput): string[] {
  const { manifest, previous, links, tag } = input;
  const env = manifest.environment;
  const dispatch = (id: string) =>
    `gh workflow run rollback.yml --repo ${links.repository} -f environment=${env} -f release-id=${id}`;
  const secrets = (manifest.config.secrets?.names.length ?? 0) > 0;
  return [
    '',
    '#### Deploy, roll back',
    '',
    `Deploy this release with the rollback workflow, which deploys any release that exists:`,
    '',
    ...fenced('sh', [dispatch(manifest.id)]),
    '',
    ...(previous
      ? [`Go back to the release before it:`, '', ...fenced('sh', [dispatch(previous.id)]), '']
      : []),
    `Or as a step, with the settings [docs/keys.md](${links.docs}keys.md) makes:`,
    '',
    ...fenced('yaml', [
      `- uses: ${links.runAction}`,
      '  with:',
      `    environment: ${env}`,
      `    release-id: ${manifest.id}`,
      '    hosts: ${{ vars.DEPLOY_HOSTS }}',
      '    ssh-key: ${{ secrets.DEPLOY_SSH_KEY }}',
      '    known-hosts: ${{ vars.DEPLOY_KNOWN_HOSTS }}',
      '    allowed-signers: ${{ vars.RELEASE_ALLOWED_SIGNERS }}',
      ...(secrets ? ['    identity: ${{ secrets.AGE_IDENTITY }}'] : []),
    ]),
    '',
    'Releases never change; a rollback deploys an existing one.',
    '',
    '#### Check it by hand',
    '',
    `The signature, with \`gh\` and \`ssh-keygen\` only ([the bundle, the chain and the secrets too](${links.docs}verify-by-hand.md)):`,
    '',
    ...fenced('sh', [
      `gh release download ${tag} --repo ${links.repository} --pattern '${MANIFEST_ASSET}*'`,
      `gh variable get RELEASE_ALLOWED_SIGNERS --env ${env} --repo ${links.repository} > allowed_signers`,
      `principal=$(ssh-keygen -Y find-principals -f allowed_signers -s ${SIGNATURE_ASSET} < ${MANIFEST_ASSET})`,
      `ssh-keygen -Y verify -f allowed_signers -I "$principal" -n build-release-run -s ${SIGNATURE_ASSET} < ${MANIFEST_ASSET}`,
    ]),
  ];
}

export function releaseNotes(input: NotesInput): string {
  const build = (summarised: boolean) =>
    [...heading(input), ...configSection(input, summarised), ...footer(input)].join('\n');
  const full = build(false);
  if (full.length <= BODY_LIMIT) return full;
  const summary = build(true);
  return summary.length <= BODY_LIMIT ? summary : `${summary.slice(0, BODY_LIMIT - 1)}…`;
}
