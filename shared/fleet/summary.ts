import { formatError } from '../errors.js';
import type { DryRun } from '../host/state.js';
import type { Manifest } from '../manifest.js';
import { code, codeBlock, formatBytes, formatSeconds, markdownTable } from '../markdown.js';
import { commandLine, type ReleaseCommandReport } from './release-command.js';
import { describeRuns, type HostOutcome } from './rollout.js';
import type { Teardown } from './teardown.js';

/** The verified release a step deploys, as the summary shows it. */
export interface ReleaseFacts {
  app: string;
  environment: string;
  releaseId: string;
  releaseUrl: string;
  manifest: Manifest;
  manifestDigest: string;
  signer: string;
}

export interface RunReport extends ReleaseFacts {
  /** `previous`: a rollback to a release still on the hosts. */
  rollback: boolean;
  /** One line: what happened overall. */
  headline: string;
  outcomes: readonly HostOutcome[];
  /** The release to go back to, if any: what the roll-back snippet names. */
  rollbackTo: string | undefined;
  deploymentId: number | undefined;
  url: string | undefined;
  releaseCommand?: ReleaseCommandReport;
}

function resultText(outcome: HostOutcome): string {
  if (!outcome.reached) return 'not started (an earlier host failed)';
  if (outcome.heldBack === 'release-command') return 'not switched: the release command failed';
  if (outcome.heldBack === 'another-host') return 'not switched (another host failed)';
  if (outcome.error !== undefined) return `✗ ${formatError(outcome.error)}`;
  const result = outcome.result;
  if (!result) return '?';
  const base =
    result.result === 'activated'
      ? `✓ ${result.releaseId} activated${result.skippedUpload ? ' (already on the host)' : ''}`
      : result.result === 'rolled-back'
        ? `✓ rolled back to ${result.releaseId}`
        : result.result === 'failed-rolled-back'
          ? `✗ ${result.failure?.message ?? 'failed'}`
          : `✗ ${result.failure?.message ?? 'failed'}; nothing is current`;
  if (outcome.putBack) {
    return `${base}; put back on ${outcome.putBack.currentId ?? '?'}${outcome.putBack.failure ? ` (${outcome.putBack.failure.message})` : ''}`;
  }
  if (outcome.putBackError) {
    return `${base}; putting it back failed: ${formatError(outcome.putBackError)}`;
  }
  return base;
}

function hostRows(outcomes: readonly HostOutcome[]): string[][] {
  return outcomes.map((outcome) => {
    const { result, after } = outcome;
    const current = after.kind === 'unknown' ? '–' : describeRuns(after);
    const seconds = (result?.seconds ?? 0) + (outcome.putBack?.seconds ?? 0);
    const sent = (result?.bytesSent ?? 0) + (outcome.putBack?.bytesSent ?? 0);
    return [
      `\`${outcome.host}\``,
      resultText(outcome),
      current,
      result?.previousId ?? (result ? 'none' : '–'),
      result ? formatSeconds(seconds * 1000) : '–',
      result ? formatBytes(sent) : '–',
      result?.pruned.length ? result.pruned.join(', ') : '',
    ];
  });
}

function rollbackSnippet(
  report: Pick<RunReport, 'environment' | 'app' | 'rollbackTo' | 'rollback'>,
): string[] {
  if (report.rollbackTo === undefined) return [];
  // After a rollback, `previous` walks further back: the release rolled back from counts as bad.
  const how = report.rollback
    ? `deploy \`${report.rollbackTo}\` again`
    : `run this step with \`release-id: previous\` (or \`${report.rollbackTo}\`)`;
  return [
    '',
    `#### Roll back`,
    '',
    `To go back to ${report.rollbackTo}, ${how}:`,
    '',
    '```yaml',
    '- uses: build-release-run/run-action@v1',
    '  with:',
    `    app: ${report.app}`,
    `    environment: ${report.environment}`,
    `    release-id: ${report.rollback ? report.rollbackTo : 'previous'}`,
    '```',
  ];
}

function releaseTable(
  report: ReleaseFacts & Partial<Pick<RunReport, 'deploymentId' | 'url'>>,
): string {
  const { manifest } = report;
  return markdownTable(
    ['', ''],
    [
      [
        'Release',
        `[${report.releaseId}](${report.releaseUrl}) of ${report.app} / ${report.environment}`,
      ],
      [
        'Build',
        `\`${manifest.build.sha}\` · \`${manifest.build.digest}\` · ${formatBytes(manifest.build.size)}`,
      ],
      ['Changes', manifest.changes || '–'],
      ['Manifest', `\`${report.manifestDigest}\`, signed by ${report.signer}`],
      [
        'Config',
        `${Object.keys(manifest.config.vars).length} vars, ${manifest.config.secrets?.names.length ?? 0} secrets (names: ${[...Object.keys(manifest.config.vars), ...(manifest.config.secrets?.names ?? [])].sort().join(', ') || 'none'})`,
      ],
      ...(report.deploymentId !== undefined
        ? [['GitHub Deployment', `${report.deploymentId}${report.url ? ` · ${report.url}` : ''}`]]
        : report.url
          ? [['URL', report.url]]
          : []),
    ],
  );
}

/** The job summary of a deploy or rollback: what ran where, and how to go back. */
export function runSummary(report: RunReport): string {
  return [
    `### ${report.rollback ? 'Rollback' : 'Deploy'} ${report.app} ${report.environment} ${report.releaseId}: ${report.headline}`,
    '',
    releaseTable(report),
    '',
    markdownTable(
      ['Host', 'Result', 'Current', 'Before', 'Time', 'Sent', 'Pruned'],
      hostRows(report.outcomes),
    ),
    ...releaseCommandSection(report.releaseCommand),
    ...rollbackSnippet(report),
    '',
  ].join('\n');
}

/** Where the release command ran (or would), how it ended, and the tail of what it printed. */
function releaseCommandSection(report: ReleaseCommandReport | undefined): string[] {
  if (!report) return [];
  const where = `${code(commandLine(report.command))} on ${code(report.host)} in ${code(`releases/${report.releaseId}`)}`;
  const took = report.run ? ` in ${formatSeconds(report.run.seconds * 1000)}` : '';
  const line = {
    passed: `✓ ${where} passed${took}`,
    failed: `✗ ${where}: ${report.reason ?? 'failed'}${took}; no host was switched`,
    skipped: `Not run: ${report.reason ?? ''}. \`release-command-on-rollback: true\` runs it.`,
    'would-run': `Would run ${where}, once, after every host has the release and before any switch.`,
    'would-skip': `Would not run ${where}: ${report.reason ?? ''}.`,
  }[report.status];
  const output = report.run?.output ? ['', codeBlock(report.run.output)] : [];
  return ['', '#### Release command', '', line, ...output];
}

/** The job summary of a dry run: what each host would get. */
export function dryRunSummary(
  report: ReleaseFacts & { hosts: readonly DryRun[]; releaseCommand?: ReleaseCommandReport },
): string {
  const rows = report.hosts.map((host) => [
    `\`${host.host}\``,
    host.upload === 'skip'
      ? 'already there: no upload'
      : host.upload === 'replace'
        ? 'replace a different copy'
        : `upload ${formatBytes(report.manifest.build.size)} (compressed)`,
    `${host.current ?? 'nothing'} → ${host.releaseId}`,
    host.prune.join(', '),
    host.problems.join('; '),
  ]);
  return [
    `### Dry run: ${report.app} ${report.environment} ${report.releaseId}, nothing changed`,
    '',
    releaseTable(report),
    '',
    markdownTable(['Host', 'Upload', 'Switch', 'Would prune', 'Problems'], rows),
    ...releaseCommandSection(report.releaseCommand),
    '',
  ].join('\n');
}

/** The job summary of a teardown: each host's result, and what GitHub's record says now. */
export function destroySummary(
  options: Pick<Teardown, 'hosts' | 'deactivated' | 'deletedReleases'> & {
    app: string;
    environment: string;
    root: string;
  },
): string {
  const rows = options.hosts.map((h) => [
    `\`${h.host}\``,
    h.error !== undefined
      ? `✗ ${formatError(h.error)}`
      : h.removed
        ? `✓ removed${h.stopped ? ' (stopped first)' : ''}`
        : 'nothing there',
  ]);
  const lines = [
    `### Destroy ${options.app} ${options.environment}`,
    '',
    `Deploy root \`${options.root}\` on each host:`,
    '',
    markdownTable(['Host', 'Result'], rows),
    '',
  ];
  if (options.deactivated !== undefined) {
    lines.push(`GitHub Deployments marked inactive: ${options.deactivated}`, '');
  }
  if (options.deletedReleases !== undefined) {
    lines.push(
      `Releases deleted: ${options.deletedReleases.length ? options.deletedReleases.map((t) => `\`${t}\``).join(', ') : 'none'}`,
      '',
    );
  }
  return lines.join('\n');
}
