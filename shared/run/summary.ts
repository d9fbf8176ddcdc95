import type { DryRun as HostPlan } from '../host/state.js';
import type { Manifest } from '../manifest.js';
import { formatBytes, formatSeconds, markdownTable } from '../summary.js';
import type { HostOutcome } from './hosts.js';

export interface RunReport {
  app: string;
  environment: string;
  releaseId: string;
  releaseUrl: string;
  manifest: Manifest;
  manifestDigest: string;
  signer: string;
  /** `previous`: a rollback to a release still on the hosts. */
  rollback: boolean;
  /** One line: what happened overall. */
  headline: string;
  outcomes: readonly HostOutcome[];
  /** The release to go back to, if any: what the roll-back snippet names. */
  rollbackTo: string | undefined;
  deploymentId: number | undefined;
  url: string | undefined;
}

function resultText(outcome: HostOutcome): string {
  if (outcome.skipped) return 'not started (an earlier host failed)';
  if (outcome.error !== undefined) return `✗ ${outcome.error}`;
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
  if (outcome.putBackError) return `${base}; putting it back failed: ${outcome.putBackError}`;
  return base;
}

function hostRows(outcomes: readonly HostOutcome[]): string[][] {
  return outcomes.map((outcome) => {
    const result = outcome.result;
    const current = outcome.skipped
      ? outcome.current
      : (outcome.putBack?.currentId ?? result?.currentId);
    const seconds = (result?.seconds ?? 0) + (outcome.putBack?.seconds ?? 0);
    const sent = (result?.bytesSent ?? 0) + (outcome.putBack?.bytesSent ?? 0);
    return [
      `\`${outcome.host}\``,
      resultText(outcome),
      current ?? (result || outcome.skipped ? 'nothing' : '–'),
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

function releaseTable(report: RunReport): string {
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
    ...rollbackSnippet(report),
    '',
  ].join('\n');
}

/** The job summary of a dry run: what each host would get. */
export function planSummary(
  report: Pick<
    RunReport,
    'app' | 'environment' | 'releaseId' | 'releaseUrl' | 'manifest' | 'manifestDigest' | 'signer'
  > & { plans: readonly HostPlan[] },
): string {
  const rows = report.plans.map((plan) => [
    `\`${plan.host}\``,
    plan.upload === 'skip'
      ? 'already there: no upload'
      : plan.upload === 'replace'
        ? 'replace a different copy'
        : `upload ${formatBytes(report.manifest.build.size)} (compressed)`,
    `${plan.current ?? 'nothing'} → ${plan.releaseId}`,
    plan.prune.join(', '),
    plan.problems.join('; '),
  ]);
  return [
    `### Dry run: ${report.app} ${report.environment} ${report.releaseId}, nothing changed`,
    '',
    releaseTable({
      ...report,
      rollback: false,
      headline: '',
      outcomes: [],
      rollbackTo: undefined,
      deploymentId: undefined,
      url: undefined,
    }),
    '',
    markdownTable(['Host', 'Upload', 'Switch', 'Would prune', 'Problems'], rows),
    '',
  ].join('\n');
}
