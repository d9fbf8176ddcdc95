/**
 * Writes the inputs and outputs tables of each action's page in docs/ from its action.yml, so
 * the reference cannot drift from what the runner reads. Only the text between the markers is
 * generated; the prose around it is kept.
 *
 *   npm run docs              rewrite the tables
 *   npm run docs -- --check   exit 1 when a table differs from its action.yml
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as prettier from 'prettier';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const ROOT = path.resolve(import.meta.dirname, '..');

/** Each page and the action.yml it documents, both relative to the repository root. */
export const PAGES = [
  { page: 'docs/build-action.md', action: 'build-action/action.yml' },
  { page: 'docs/release-action.md', action: 'release-action/action.yml' },
  { page: 'docs/run-action.md', action: 'run-action/action.yml' },
  { page: 'docs/ship.md', action: 'action.yml' },
] as const;

export const SECTIONS = ['inputs', 'outputs'] as const;
export type Section = (typeof SECTIONS)[number];

const actionYml = z.object({
  name: z.string(),
  description: z.string(),
  inputs: z
    .record(
      z.string(),
      z.object({
        description: z.string(),
        required: z.boolean().optional(),
        default: z.union([z.string(), z.number(), z.boolean()]).optional(),
      }),
    )
    .default({}),
  outputs: z.record(z.string(), z.object({ description: z.string() })).default({}),
});

export type ActionYml = z.output<typeof actionYml>;

export async function readActionYml(file: string): Promise<ActionYml> {
  const parsed = actionYml.safeParse(parseYaml(await readFile(file, 'utf8')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${file}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

function begin(section: Section): string {
  return `<!-- BEGIN GENERATED ${section}: from action.yml by npm run docs; do not edit -->`;
}

function end(section: Section): string {
  return `<!-- END GENERATED ${section} -->`;
}

/** Table cell text: one line, with what markdown would read as markup escaped. */
function cell(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\\<*|]/g, (c) => `\\${c}`);
}

function code(text: string): string {
  return `\`${text.replace(/\|/g, '\\|')}\``;
}

export function renderSection(section: Section, action: ActionYml): string {
  if (section === 'inputs') {
    const rows = Object.entries(action.inputs).map(([name, input]) => {
      const value = input.default === undefined ? '' : String(input.default);
      return `| ${code(name)} | ${input.required === true ? 'yes' : 'no'} | ${value === '' ? '' : code(value)} | ${cell(input.description)} |`;
    });
    return [
      '| Input | Required | Default | Description |',
      '| --- | --- | --- | --- |',
      ...rows,
    ].join('\n');
  }
  const rows = Object.entries(action.outputs).map(
    ([name, output]) => `| ${code(name)} | ${cell(output.description)} |`,
  );
  return ['| Output | Description |', '| --- | --- |', ...rows].join('\n');
}

/** Replaces every generated section of `page` with what `action` says, formatted by Prettier. */
export async function renderPage(page: string, text: string, action: ActionYml): Promise<string> {
  let result = text;
  for (const section of SECTIONS) {
    const start = result.indexOf(begin(section));
    const stop = result.indexOf(end(section));
    if (start === -1 || stop === -1 || stop < start) {
      throw new Error(`${page}: expected the markers ${begin(section)} and ${end(section)}`);
    }
    result = `${result.slice(0, start + begin(section).length)}\n\n${renderSection(section, action)}\n\n${result.slice(stop)}`;
  }
  const options = (await prettier.resolveConfig(path.join(ROOT, page))) ?? {};
  return prettier.format(result, { ...options, filepath: path.join(ROOT, page) });
}

/** The text between one section's markers, for comparing a page with what it should say. */
export function sectionText(text: string, section: Section): string | undefined {
  const start = text.indexOf(begin(section));
  const stop = text.indexOf(end(section));
  if (start === -1 || stop === -1 || stop < start) return undefined;
  return text.slice(start + begin(section).length, stop).trim();
}

export interface PageResult {
  page: string;
  current: string;
  expected: string;
  /** Sections whose text differs from the action.yml. */
  stale: Section[];
}

export async function checkPages(root: string = ROOT): Promise<PageResult[]> {
  const results: PageResult[] = [];
  for (const { page, action } of PAGES) {
    const current = await readFile(path.join(root, page), 'utf8');
    const expected = await renderPage(page, current, await readActionYml(path.join(root, action)));
    const stale = SECTIONS.filter(
      (section) => sectionText(current, section) !== sectionText(expected, section),
    );
    results.push({ page, current, expected, stale });
  }
  return results;
}

async function main(argv: readonly string[]): Promise<number> {
  const check = argv.includes('--check');
  let stale = 0;
  for (const result of await checkPages()) {
    if (result.stale.length === 0 && result.current === result.expected) continue;
    if (check) {
      if (result.stale.length === 0) continue;
      stale++;
      console.error(
        `${result.page}: ${result.stale.join(' and ')} differ from the action.yml; run npm run docs`,
      );
    } else {
      await writeFile(path.join(ROOT, result.page), result.expected);
      console.log(`wrote ${result.page}`);
    }
  }
  return stale === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}
