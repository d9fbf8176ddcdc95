import { ConfigurationError, formatError } from '../errors.js';
import type { HostFailure, HostResult } from '../host/activate.js';
import type { DryRun } from '../host/state.js';
import type { Manifest } from '../manifest.js';
import {
  code,
  codeBlock,
  factsTable,
  formatBytes,
  formatSeconds,
  markdownTable,
  markdownText,
} from '../markdown.js';
import { commandLine, type ReleaseCommandReport } from './release-command.js';
import type { FleetResult } from './result.js';
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

/** Where to go back from here, as a command that runs as written. */
export interface RollbackHint {
  /** `owner/repo`: where the rollback workflow runs. */
  repository: string;
  /** The rollback workflow's page. */
  workflowUrl: string;
  environment: string;
  /** The release to go back to. */
  to: string;
}

export interface RunReport extends ReleaseFacts {
  /** `previous`: a rollback to a release still on the hosts. */
  rollback: boolean;
  fleet: FleetResult;
  outcomes: readonly HostOutcome[];
  /** How to go back, after a step that succeeded and moved the hosts. */
  hint: RollbackHint | undefined;
  deploymentId: number | undefined;
  url: string | undefined;
  releaseCommand?: ReleaseCommandReport;
}

/** An error as one line without the host it names: the row already says which host. */
function withoutHost(error: Error): string {
  if (!(error instanceof ConfigurationError)) return markdownText(formatError(error));
  const { subject, ...rest } = error.problem;
  return markdownText(
    formatError(subject?.startsWith('host ') ? new ConfigurationError(rest) : error),
  );
}

function resultText(outcome: HostOutcome): string {
  if (!outcome.reached) return 'not started (an earlier host failed)';
  if (outcome.heldBack === 'release-command') return 'not switched: the release command failed';
  if (outcome.heldBack === 'another-host') return 'not switched (another host failed)';
  if (outcome.error !== undefined) return `✗ ${withoutHost(outcome.error)}`;
  const result = outcome.result;
  if (!result) return '?';
  const failed = (failed: HostResult) => {
    const failure = failed.failure;
    if (!failure) return 'failed';
    const where =
      failed.currentId === undefined
        ? 'nothing is current'
        : `back on ${failed.currentId}${failure.switchBackProblem ? ', which did not come up either' : ''}`;
    return `${failed.releaseId}: ${markdownText(failure.what)}; ${where}`;
  };
  const base =
    result.result === 'activated'
      ? `✓ ${result.releaseId} activated${result.skippedUpload ? ' (already on the host)' : ''}`
      : result.result === 'rolled-back'
        ? `✓ rolled back to ${result.releaseId}`
        : `✗ ${failed(result)}`;
  const pruned = result.pruned.length ? `; pruned ${result.pruned.join(', ')}` : '';
  if (outcome.putBack) {
    const back = outcome.putBack;
    return `${base}; put back on ${back.currentId ?? 'nothing'}${back.failure ? ` (${failed(back)})` : ''}`;
  }
  if (outcome.putBackError) {
    return `${base}; putting it back failed: ${withoutHost(outcome.putBackError)}`;
  }
  return `${base}${pruned}`;
}

/** What a host runs now, and whether it came up. */
function runsText(outcome: HostOutcome): string {
  const runs = describeRuns(outcome.after);
  return outcome.healthy === false ? `${runs} ✗ down` : runs;
}

function hostRows(outcomes: readonly HostOutcome[]): string[][] {
  return outcomes.map((outcome) => {
    const { result } = outcome;
    const seconds = (result?.seconds ?? 0) + (outcome.putBack?.seconds ?? 0);
    const sent = (result?.bytesSent ?? 0) + (outcome.putBack?.bytesSent ?? 0);
    return [
      code(outcome.host),
      resultText(outcome),
      runsText(outcome),
      outcome.before.kind === 'unknown' ? '–' : describeRuns(outcome.before),
      result ? `${formatSeconds(seconds * 1000)}, ${formatBytes(sent)}` : '–',
    ];
  });
}

const STEP_WORDS: Record<HostFailure['step'], string> = {
  restart: 'restart',
  'health-check': 'health check',
};

/** The last lines each failing command printed, one block per command. */
function outputTails(outcomes: readonly HostOutcome[]): string[] {
  const block = (host: string, what: string, output: string | undefined) =>
    output ? ['', `${code(host)}, the last output of ${what}:`, '', codeBlock(output)] : [];
  return outcomes.flatMap((outcome) =>
    [outcome.result, outcome.putBack].flatMap((result) => {
      const failure = result?.failure;
      if (!result || !failure) return [];
      const fallback = result.currentId ?? 'the release gone back to';
      return [
        ...block(
          outcome.host,
          `the ${STEP_WORDS[failure.step]} of ${result.releaseId}`,
          failure.output,
        ),
        ...block(outcome.host, `bringing ${fallback} back up`, failure.switchBackOutput),
      ];
    }),
  );
}

/** How to go back: the rollback workflow, and the `gh` line that starts it. */
export function rollbackSection(hint: RollbackHint | undefined): string[] {
  if (hint === undefined) return [];
  const command = `gh workflow run rollback.yml --repo ${hint.repository} -f environment=${hint.environment} -f release-id=${hint.to}`;
  return [
    '',
    '#### Roll back',
    '',
    `To go back to ${hint.to}, run the [rollback workflow](${hint.workflowUrl}) with environment ${code(hint.environment)} and release-id ${code(hint.to)}, or from a terminal:`,
    '',
    codeBlock(command, 'sh'),
    '',
    `Or run this step again with ${code(`release-id: ${hint.to}`)}.`,
  ];
}

function releaseTable(
  report: ReleaseFacts & Partial<Pick<RunReport, 'deploymentId' | 'url'>>,
): string {
  const { manifest } = report;
  const names = [
    ...Object.keys(manifest.config.vars),
    ...(manifest.config.secrets?.names ?? []),
  ].sort();
  const rows: [string, string][] = [
    [
      'Release',
      `[${report.releaseId}](${report.releaseUrl}) of ${report.app} / ${report.environment}`,
    ],
    [
      'Build',
      `${code(manifest.build.sha)} · ${code(manifest.build.digest)} · ${formatBytes(manifest.build.size)}`,
    ],
    ['Changes', manifest.changes ? markdownText(manifest.changes) : '–'],
    ['Manifest', `${code(report.manifestDigest)}, signed by ${code(report.signer)}`],
    [
      'Config',
      `${Object.keys(manifest.config.vars).length} vars, ${manifest.config.secrets?.names.length ?? 0} secrets (names: ${names.map(code).join(', ') || 'none'})`,
    ],
  ];
  if (report.deploymentId !== undefined) {
    rows.push([
      'GitHub Deployment',
      `${report.deploymentId}${report.url ? ` · ${report.url}` : ''}`,
    ]);
  } else if (report.url) rows.push(['URL', report.url]);
  return factsTable(rows);
}

/** The job summary of a deploy or rollback: what runs where now, why it failed, how to go back. */
export function runSummary(report: RunReport): string {
  return [
    `### ${report.rollback ? 'Rollback' : 'Deploy'} ${report.app} ${report.environment} ${report.releaseId}: ${report.fleet.headlineMarkdown}`,
    '',
    releaseTable(report),
    '',
    markdownTable(
      ['Host', 'Result', 'Runs now', 'Before', 'Time, sent'],
      hostRows(report.outcomes),
    ),
    ...releaseCommandSection(report.releaseCommand),
    ...outputTails(report.outcomes),
    ...rollbackSection(report.hint),
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
    code(host.host),
    host.upload === 'skip'
      ? 'already there: no upload'
      : host.upload === 'replace'
        ? 'replace a different copy'
        : `upload ${formatBytes(report.manifest.build.size)} (compressed)`,
    `${host.current ?? 'nothing'} → ${host.releaseId}`,
    host.prune.join(', '),
    markdownText(host.problems.join('; ')),
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
    code(h.host),
    h.error !== undefined
      ? `✗ ${markdownText(formatError(h.error))}`
      : h.removed
        ? `✓ removed${h.stopped ? ' (stopped first)' : ''}`
        : 'nothing there',
  ]);
  const lines = [
    `### Destroy ${options.app} ${options.environment}`,
    '',
    `Deploy root ${code(options.root)} on each host:`,
    '',
    markdownTable(['Host', 'Result'], rows),
    '',
  ];
  if (options.deactivated !== undefined) {
    lines.push(`GitHub Deployments marked inactive: ${options.deactivated}`, '');
  }
  if (options.deletedReleases !== undefined) {
    lines.push(
      `Releases deleted: ${options.deletedReleases.length ? options.deletedReleases.map(code).join(', ') : 'none'}`,
      '',
    );
  }
  return lines.join('\n');
}
