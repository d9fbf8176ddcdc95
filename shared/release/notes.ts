import {
  configDiff,
  MANIFEST_ASSET,
  SIGNATURE_ASSET,
  type ConfigDiff,
  type Manifest,
} from '../manifest.js';
import { formatBytes, markdownTable } from '../markdown.js';

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

function heading(input: NotesInput): string[] {
  const { manifest } = input;
  return [
    `**${manifest.changes}**`,
    '',
    markdownTable(
      ['', ''],
      [
        ['Release', `\`${input.tag}\``],
        [
          'Build',
          `\`${manifest.build.sha}\` · \`${manifest.build.digest}\` · ${formatBytes(manifest.build.size)}`,
        ],
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
      ],
    ),
    '',
    `The tag marks this release's place in the ledger; the build's commit is \`${manifest.build.sha}\`.`,
    '',
  ];
}

function footer(manifest: Manifest, previous: Manifest | undefined): string[] {
  const rollback = previous?.id ?? 'previous';
  return [
    '',
    '#### Deploy, roll back',
    '',
    ...fenced('yaml', [
      '- uses: acme/build-release-run/run-action@v1',
      '  with:',
      `    environment: ${manifest.environment}`,
      `    release-id: ${manifest.id}`,
    ]),
    '',
    `To go back, deploy the release before it: \`release-id: ${rollback}\` (\`previous\` is the one the hosts ran before their current one). Releases never change; a rollback deploys an existing one.`,
    '',
    `Check it by hand: \`ssh-keygen -Y verify -f allowed_signers -I <signer> -n build-release-run -s ${SIGNATURE_ASSET} < ${MANIFEST_ASSET}\`.`,
  ];
}

export function releaseNotes(input: NotesInput): string {
  const build = (summarised: boolean) =>
    [
      ...heading(input),
      ...configSection(input, summarised),
      ...footer(input.manifest, input.previous),
    ].join('\n');
  const full = build(false);
  if (full.length <= BODY_LIMIT) return full;
  const summary = build(true);
  return summary.length <= BODY_LIMIT ? summary : `${summary.slice(0, BODY_LIMIT - 1)}…`;
}
