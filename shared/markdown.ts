/** Small helpers for job summaries and log lines a person reads. */

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)}s` : `${(ms / 1000).toFixed(1)}s`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

export function markdownTable(header: string[], rows: string[][]): string {
  return [
    `| ${header.map(cell).join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ].join('\n');
}

/**
 * Facts as a two-column table, name and value. GFM tables need a header row: the first fact is
 * it, left-aligned like the rest, so there is no empty bar on top.
 */
export function factsTable(rows: readonly (readonly [string, string])[]): string {
  const [first, ...rest] = rows;
  if (!first) return '';
  return [
    `| ${first.map(cell).join(' | ')} |`,
    '| :--- | :--- |',
    ...rest.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ].join('\n');
}

/** Text as a code span: shown as it is, never a link, whatever backticks it holds. */
export function code(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = text.startsWith('`') || text.endsWith('`') || text.trim() === '' ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** Text in a fenced block, for a command's output: a fence no line of it can close. */
export function codeBlock(text: string, info = 'text'): string {
  const longest = Math.max(2, ...[...text.matchAll(/`{3,}/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${info}\n${text.replace(/\n+$/, '')}\n${fence}`;
}

/**
 * Plain text (an error line, a holder's name) put in markdown: `user@host` and e-mail-like
 * names become code spans, which GitHub never turns into mailto links, and characters markdown
 * would read as formatting or HTML are escaped. Addresses such as https://… stay links.
 */
export function markdownText(text: string): string {
  const parts = text.split(
    /([^\s`'"()<>[\],;]*[^\s`'"()<>[\],;.:]@[^\s`'"()<>[\],;]*[^\s`'"()<>[\],;.:])/,
  );
  return parts
    .map((part, index) =>
      index % 2 === 1
        ? code(part)
        : part
            .replace(/[\\`*[\]<>]/g, (c) => `\\${c}`)
            // An underscore inside a word (API_TOKEN) is never emphasis in GFM.
            .replace(/(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, '\\_'),
    )
    .join('');
}
