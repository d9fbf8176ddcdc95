import { styleText } from 'node:util';
import { printable } from './core.js';
import type { Io } from './io.js';

type Style = Parameters<typeof styleText>[0];

/** A table cell: text, with a style used only where colour is on. */
export type Cell = string | { text: string; style: Style };

/** How this run prints: JSON, a table for a person at a terminal, or plain lines for a pipe. */
export interface Output {
  json: boolean;
  /** stdout is a terminal: an aligned table with a header. */
  table: boolean;
  colour: boolean;
  write(text: string): void;
}

/**
 * Tables and colour only on a terminal; colour also honours NO_COLOR (no-color.org) and
 * TERM=dumb. A pipe gets tab-separated lines without a header, one row each, as `gh` prints.
 */
export function outputOf(io: Io, json: boolean): Output {
  const table = io.stdout.isTTY === true;
  const noColour = (io.env.NO_COLOR ?? '') !== '' || io.env.TERM === 'dumb';
  return {
    json,
    table,
    colour: table && !noColour,
    write: (text) => io.stdout.write(text),
  };
}

/** Cells are escaped (no control character reaches the terminal); a table cuts long ones. */
function textOf(cell: Cell, max = Number.MAX_SAFE_INTEGER): string {
  return printable(typeof cell === 'string' ? cell : cell.text, max);
}

const TABLE_CELL = 200;

function paint(output: Output, cell: Cell, text: string): string {
  if (!output.colour || typeof cell === 'string') return text;
  return styleText(cell.style, text, { validateStream: false });
}

/** Rows as an aligned table (terminal) or tab-separated lines (pipe). Cells are escaped. */
export function printTable(
  output: Output,
  header: readonly string[],
  rows: readonly Cell[][],
): void {
  if (!output.table) {
    for (const row of rows) output.write(`${row.map((cell) => textOf(cell)).join('\t')}\n`);
    return;
  }
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => textOf(row[column] ?? '', TABLE_CELL).length)),
  );
  const line = (cells: readonly Cell[], styled: (cell: Cell, text: string) => string) =>
    cells
      .map((cell, column) => {
        const text = textOf(cell, TABLE_CELL);
        const padded = column === cells.length - 1 ? text : text.padEnd(widths[column] ?? 0);
        return styled(cell, padded);
      })
      .join('  ')
      .trimEnd();
  const bold = (_cell: Cell, text: string) =>
    output.colour ? styleText('bold', text, { validateStream: false }) : text;
  output.write(`${line(header, bold)}\n`);
  for (const row of rows) output.write(`${line(row, (cell, text) => paint(output, cell, text))}\n`);
}

/** Labelled facts, one a line: `Label  value` on a terminal, `label<TAB>value` in a pipe. */
export function printFacts(output: Output, facts: readonly [string, Cell][]): void {
  if (!output.table) {
    for (const [label, value] of facts) output.write(`${label}\t${textOf(value)}\n`);
    return;
  }
  const width = Math.max(...facts.map(([label]) => label.length));
  for (const [label, value] of facts) {
    const name = label.padEnd(width);
    const shown = output.colour ? styleText('bold', name, { validateStream: false }) : name;
    output.write(`${shown}  ${paint(output, value, textOf(value, TABLE_CELL))}\n`);
  }
}

/** A note for the person reading a table; pipes and JSON do without it. */
export function printNote(output: Output, note: string): void {
  if (!output.table) return;
  output.write(`${output.colour ? styleText('dim', note, { validateStream: false }) : note}\n`);
}

export function printJson(output: Output, value: unknown): void {
  output.write(`${JSON.stringify(value, null, 2)}\n`);
}
