import { formatError } from '../errors.js';
import { code, markdownTable, markdownText } from '../markdown.js';

/** What a host runs, read from it before the step stopped. */
export interface HostRead {
  host: string;
  current: string | undefined;
}

/**
 * What a run checked, in order, before it changed anything: so a run that stops early can say
 * what passed, that nothing changed, and what each host runs when it was read.
 */
export class Checklist {
  readonly passed: string[] = [];
  /** The hosts as read, when a step read them (`previous`, a dry run). */
  hosts: HostRead[] | undefined;
  /** Set once a host is about to change: from then on, "nothing changed" is no longer known. */
  changing = false;

  /** A check that passed, as markdown. */
  pass(line: string): void {
    this.passed.push(line);
  }

  read(hosts: HostRead[]): void {
    this.hosts = hosts;
  }

  /** The release every host read runs, when they were read and all run the same one. */
  commonRelease(): string | undefined {
    const currents = new Set(this.hosts?.map((h) => h.current));
    return currents.size === 1 ? [...currents][0] : undefined;
  }
}

/** What a run's summary calls it: `Deploy shop production v7`, `Destroy shop pr-7`. */
export function runTitle(run: {
  app: string;
  environment: string;
  'release-id': string;
  destroy: boolean;
  'dry-run': boolean;
}): string {
  if (run.destroy) return `Destroy ${run.app} ${run.environment}`;
  const id = run['release-id'];
  const kind = run['dry-run'] ? 'Dry run' : id === 'previous' ? 'Rollback' : 'Deploy';
  return `${kind} ${run.app} ${run.environment} ${id}`;
}

/** The job summary of a run that stopped before it changed any host: a bad key, an unknown release. */
export function stoppedSummary(options: {
  title: string;
  error: unknown;
  checklist: Checklist;
}): string {
  const { checklist } = options;
  const hosts = checklist.hosts;
  const passed = checklist.passed;
  return [
    `### ${options.title}: failed, ${checklist.changing ? 'while changing a host' : 'nothing changed'}`,
    '',
    `> ✗ ${markdownText(formatError(options.error))}`,
    '',
    checklist.changing
      ? 'It stopped while changing a host: read each host to see what it runs.'
      : 'Nothing changed on any host, and no GitHub Deployment was recorded.',
    passed.length > 0 ? 'What passed before it stopped:' : 'It stopped at the first check.',
    '',
    ...passed.map((line) => `- ✓ ${line}`),
    ...(passed.length > 0 ? [''] : []),
    ...(hosts
      ? [
          'What each host runs, read from it:',
          '',
          markdownTable(
            ['Host', 'Runs'],
            hosts.map((h) => [code(h.host), h.current ?? 'nothing']),
          ),
          '',
        ]
      : ['The hosts were not read; each still runs what it ran before this step.', '']),
  ].join('\n');
}
